// The commented example `regway config init` writes. Kept valid: a unit test parses it with the real schema.
export const EXAMPLE_SPEC = `# regway config: one declarative file for every node's registry settings.
# Check what would change with \`regway config plan\`; write it with \`regway config apply\`.
version: 1

# Which runtime files to manage. Leave one out and regway never touches its files.
#   docker-daemon   /etc/docker/daemon.json           mirrors (Docker Hub only), insecure registries, download tuning
#   docker-config   /root/.docker/config.json          docker CLI logins (auths)
#   containerd      /etc/containerd/certs.d/*/hosts.toml  mirrors for every registry
#   registries-conf /etc/containers/registries.conf    podman, CRI-O, buildah, skopeo
#   containers-auth /root/.config/containers/auth.json podman/skopeo/buildah logins
#   kubernetes      a pull Secret as YAML; apply --reload puts it on the cluster and in ServiceAccounts
targets: [docker-daemon, docker-config, containerd, registries-conf, containers-auth]

registries:
  # Mirrors are tried in this order, then the registry itself.
  - host: docker.io
    mirrors:
      - url: http://regway.internal:5000         # a regway gateway (regway serve)...
        gateway: true                            # ...serving every registry under one address: each runtime gets its own form
      - url: http://10.0.0.5:5000                # a plain registry mirror: the root of a registry API, no path
        insecure: true                           # plain HTTP or unverified TLS
        resolveTags: false                       # digests only: tags always resolve at docker.io
  - host: ghcr.io
    mirrors:
      - url: http://regway.internal:5000         # the same gateway for another registry
        gateway: true
  - host: lab.example:5000
    server: http://lab.example:5000              # a lab registry on plain HTTP: say so here...
    insecure: true                               # ...and here; containerd, podman and dockerd all need it
  - host: registry.example.com:5000
    ca: /etc/regway/ca/registry.example.com.crt  # containerd reads it; copy it to certs.d dirs for docker/podman
    credentials:                                 # by reference only: never a password in this file
      username: ci-bot
      password: { env: REGISTRY_PASSWORD }       # or { file: /etc/regway/registry.pw } or { prompt: true }
  - host: quay.io
    mirrors:
      - url: https://quay-mirror.example.internal

insecureRegistries: [10.20.0.0/16]               # host[:port] or CIDR (CIDRs reach dockerd only)
blockedRegistries: [evil.example.com]            # podman/CRI-O refuse them; dockerd/containerd cannot block
unqualifiedSearchRegistries: [registry.example.com:5000, docker.io]

docker:
  maxConcurrentDownloads: 6
  maxDownloadAttempts: 5
  # daemonJson: /etc/docker/daemon.json
  # configJson: /root/.docker/config.json
  # pidFile: /var/run/docker.pid               # --reload sends SIGHUP to this pid

# containerd:
#   certsDir: /etc/containerd/certs.d
#   configToml: /etc/containerd/config.toml    # checked: config_path must point at certsDir

# containers:
#   registriesConf: /etc/containers/registries.conf
#   dropIn: true                               # own registries.conf.d/50-regway.conf instead of editing the file
#   authFile: /root/.config/containers/auth.json

# kubernetes:                                  # add "kubernetes" to targets to use it
#   secretName: regcred
#   namespace: default
#   serviceAccounts: [default]
#   output: /etc/regway/kubernetes/pull-secret.yaml
#   kubeconfig: /etc/kubernetes/admin.conf     # apply --reload runs kubectl with it
`;
