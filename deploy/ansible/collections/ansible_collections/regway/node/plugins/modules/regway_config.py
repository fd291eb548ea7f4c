#!/usr/bin/python
# -*- coding: utf-8 -*-
# Apache-2.0 (see the regway repository)
"""Ansible module: apply a regway declarative file on a node with the regway CLI."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: regway_config
short_description: Apply a regway declarative file (registry settings of Docker, containerd, Podman/CRI-O, Kubernetes)
description:
  - Runs C(regway config plan) and C(regway config apply) on the node. regway edits only what it manages,
    writes each file atomically after a backup set, and refuses credentials in daemon.json.
  - Check mode runs only C(regway config plan). With C(--diff) the task shows regway's unified diff per file
    (credentials redacted).
  - The task reports C(changed) only when regway wrote a file. C(changed_targets) names the targets whose files
    changed, so a handler can reload dockerd only when daemon.json changed.
  - Credentials stay out of the file (C({env: VAR}) references); pass their values with the task's C(environment).
options:
  file:
    description: The declarative file on the node (C(regway config --file)). One of I(file) and I(config).
    type: path
  config:
    description:
      - The declarative file's content, as data (docs/config.md). Planned and applied from a private copy, so that
        check mode plans this content even when the task writing I(file) was itself only simulated.
    type: dict
  root:
    description: Work on the tree under this directory instead of C(/) (C(regway config --root)).
    type: path
    default: /
  backup_dir:
    description: Node path of the backup sets (taken under I(root)).
    type: str
    default: /var/backups/regway
  regway_bin:
    description: The regway executable, a name on PATH or an absolute path.
    type: str
    default: regway
  reload:
    description:
      - Let regway reload what needs it (SIGHUP to the pid in C(docker.pidFile); the pull Secret with kubectl).
      - Leave it off to reload dockerd from a handler instead (see the role C(regway.node.node)).
    type: bool
    default: false
  kubeconfig:
    description: kubeconfig for I(reload) of the C(kubernetes) target.
    type: path
author: regway
"""

EXAMPLES = r"""
- name: Registry settings from regway's declarative file
  regway.node.regway_config:
    config:
      registries:
        - host: docker.io
          mirrors: [{url: https://mirror.example.internal}]
        - host: registry.example.com:5000
          credentials: {username: ci-bot, password: {env: REGISTRY_PASSWORD}}
  environment:
    REGISTRY_PASSWORD: "{{ vault_registry_password }}"
  register: regway_apply
  notify: reload dockerd   # a handler with: when: "'docker-daemon' in regway_apply.changed_targets"
"""

RETURN = r"""
changed_targets:
  description: Targets whose files changed (or would change, in check mode), e.g. C(docker-daemon).
  returned: always
  type: list
  elements: str
changes:
  description: One entry per file (target, path, action create/update/delete).
  returned: always
  type: list
  elements: dict
written:
  description: Node paths written by this run.
  returned: always
  type: list
  elements: str
backup_set:
  description: The backup set of this run (C(regway config rollback) restores it).
  returned: when a file was written
  type: str
reloaded:
  description: What regway reloaded (with I(reload)).
  returned: always
  type: list
  elements: str
"""

import json
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule


def regway(module, binary, args, spec_file):
    p = module.params
    cmd = [binary, "config"] + args + ["--file", spec_file, "--root", p["root"], "--backup-dir", p["backup_dir"]]
    return module.run_command(cmd)


def spec_file_of(module):
    if module.params["config"] is None:
        return module.params["file"]
    # JSON is YAML: regway reads it as its declarative file. Private (0600), in the module's temp dir.
    fd, path = tempfile.mkstemp(prefix="regway-config-", suffix=".yaml", dir=module.tmpdir)
    with os.fdopen(fd, "w") as f:
        json.dump(module.params["config"], f)
    return path


def fail(module, what, rc, out, err):
    # regway prints one message with the field names and the next step: that is the task's message.
    msg = (err or out).strip() or "%s exited %s" % (what, rc)
    module.fail_json(msg=msg, rc=rc, stdout=out, stderr=err)


def find_binary(module):
    name = module.params["regway_bin"]
    if os.path.isabs(name):
        return name if os.access(name, os.X_OK) else None
    return module.get_bin_path(name)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            file=dict(type="path"),
            config=dict(type="dict"),
            root=dict(type="path", default="/"),
            backup_dir=dict(type="str", default="/var/backups/regway"),
            regway_bin=dict(type="str", default="regway"),
            reload=dict(type="bool", default=False),
            kubeconfig=dict(type="path"),
        ),
        supports_check_mode=True,
        required_one_of=[("file", "config")],
        mutually_exclusive=[("file", "config")],
    )
    result = dict(changed=False, changed_targets=[], changes=[], written=[], reloaded=[])
    binary = find_binary(module)
    if binary is None:
        if module.check_mode:
            # A first --check on a fresh node: the install that precedes this task was only simulated.
            result.update(changed=True, msg="regway is not installed yet (%s); a real run installs it, then plans and applies" % module.params["regway_bin"])
            module.exit_json(**result)
        module.fail_json(msg="regway not found (%s); install it first (role regway.node.node) or set regway_bin" % module.params["regway_bin"])

    spec = spec_file_of(module)
    rc, out, err = regway(module, binary, ["plan", "--json"], spec)
    if rc not in (0, 2):
        fail(module, "regway config plan", rc, out, err)
    plan = json.loads(out)
    for w in plan.get("warnings", []):
        module.warn("regway (%s): %s" % (w["target"], w["message"]))
    result["changes"] = plan["changes"]
    if module._diff and plan["changes"]:
        rc, text, err = regway(module, binary, ["plan"], spec)
        if rc not in (0, 2):
            fail(module, "regway config plan", rc, text, err)
        result["diff"] = dict(prepared=text)

    if module.check_mode or not plan["changes"]:
        result["changed"] = bool(plan["changes"])
        result["changed_targets"] = sorted(set(c["target"] for c in plan["changes"]))
        module.exit_json(**result)

    args = ["apply", "--json"]
    if module.params["reload"]:
        args.append("--reload")
    if module.params["kubeconfig"]:
        args += ["--kubeconfig", module.params["kubeconfig"]]
    rc, out, err = regway(module, binary, args, spec)
    if rc != 0:
        fail(module, "regway config apply", rc, out, err)
    applied = json.loads(out)
    result["written"] = applied["written"]
    result["changed"] = bool(applied["written"])
    # One reload step per target whose files were written.
    result["changed_targets"] = sorted(set(s["target"] for s in applied["reload"]))
    result["reloaded"] = applied.get("reloaded", [])
    if applied.get("backupSet"):
        result["backup_set"] = applied["backupSet"]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
