{{- define "regway.gatewayPod" -}}
metadata:
  labels:
    {{- include "regway.labels" . | nindent 4 }}
    app.kubernetes.io/component: gateway
  annotations:
    checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
spec:
  serviceAccountName: {{ include "regway.fullname" . }}-gateway
  automountServiceAccountToken: false
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- include "regway.podSecurity" . | nindent 4 }}
    fsGroup: 65532
  terminationGracePeriodSeconds: 60
  {{- with .Values.gateway.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if eq .Values.gateway.mode "daemonset" }}
  tolerations:
    - operator: Exists
  priorityClassName: system-node-critical
  initContainers:
    - name: cache-owner
      image: {{ include "regway.image" . }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      command: ["/usr/bin/node", "-e", "require('fs').chownSync('/var/lib/regway', 65532, 65532)"]
      securityContext:
        runAsNonRoot: false
        runAsUser: 0
        allowPrivilegeEscalation: false
        capabilities:
          drop: ["ALL"]
          add: ["CHOWN"]
      volumeMounts:
        - {name: cache, mountPath: /var/lib/regway}
  {{- else }}
  {{- with .Values.gateway.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if .Values.gateway.topologySpread }}
  topologySpreadConstraints:
    - maxSkew: 1
      topologyKey: kubernetes.io/hostname
      whenUnsatisfiable: ScheduleAnyway
      labelSelector:
        matchLabels:
          app.kubernetes.io/name: {{ include "regway.name" . }}
          app.kubernetes.io/instance: {{ .Release.Name }}
          app.kubernetes.io/component: gateway
  {{- end }}
  {{- end }}
  containers:
    - name: gateway
      image: {{ include "regway.image" . }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      {{- if and .Values.gateway.p2p.enabled .Values.gateway.p2p.scheduler }}
      # Node mode: this node's own address is what its children connect to (hostPort on the node).
      args: ["serve", "--config", "/etc/regway/regway.yaml", "--p2p-advertise", "http://$(NODE_IP):{{ .Values.gateway.hostPort }}"]
      {{- else }}
      args: ["serve", "--config", "/etc/regway/regway.yaml"]
      {{- end }}
      {{- if .Values.gateway.p2p.enabled }}
      env:
        {{- if .Values.gateway.p2p.scheduler }}
        - name: NODE_IP
          valueFrom: {fieldRef: {fieldPath: status.hostIP}}
        {{- end }}
        - name: REGWAY_P2P_TOKEN
          valueFrom: {secretKeyRef: {name: {{ default (printf "%s-p2p" (include "regway.fullname" .)) .Values.gateway.p2p.existingSecret }}, key: token}}
      {{- end }}
      ports:
        - name: registry
          containerPort: {{ .Values.gateway.port }}
          {{- if eq .Values.gateway.mode "daemonset" }}
          hostPort: {{ .Values.gateway.hostPort }}
          {{- end }}
      readinessProbe:
        httpGet: {path: /healthz, port: registry}
        periodSeconds: 5
      livenessProbe:
        httpGet: {path: /healthz, port: registry}
        periodSeconds: 20
        failureThreshold: 6
      resources:
        {{- toYaml .Values.gateway.resources | nindent 8 }}
      securityContext:
        {{- include "regway.containerSecurity" . | nindent 8 }}
      volumeMounts:
        - {name: config, mountPath: /etc/regway/regway.yaml, subPath: regway.yaml, readOnly: true}
        - {name: credentials, mountPath: /etc/regway/credentials, readOnly: true}
        - {name: cache, mountPath: /var/lib/regway}
        - {name: tmp, mountPath: /tmp}
  volumes:
    - name: config
      configMap:
        name: {{ include "regway.fullname" . }}-config
    - name: credentials
      secret:
        secretName: {{ .Values.gateway.credentials.existingSecret | default (printf "%s-upstream-credentials" (include "regway.fullname" .)) }}
        items:
          - {key: .dockerconfigjson, path: config.json}
    - name: cache
      {{- if eq .Values.gateway.mode "daemonset" }}
      hostPath:
        path: {{ .Values.gateway.hostPath }}
        type: DirectoryOrCreate
      {{- else if .Values.gateway.persistence.enabled }}
      persistentVolumeClaim:
        claimName: {{ .Values.gateway.persistence.existingClaim | default (printf "%s-cache" (include "regway.fullname" .)) }}
      {{- else }}
      emptyDir: {}
      {{- end }}
    - name: tmp
      emptyDir: {}
{{- end -}}
