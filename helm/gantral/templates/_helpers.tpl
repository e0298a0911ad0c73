{{/* Chart name, truncated to the 63 characters Kubernetes allows in names. */}}
{{- define "gantral.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified release name. */}}
{{- define "gantral.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "gantral.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "gantral.labels" -}}
helm.sh/chart: {{ include "gantral.chart" . }}
app.kubernetes.io/name: {{ include "gantral.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: gantral
{{- end }}

{{/* Selector labels of one component; call with (dict "root" $ "component" "api"). */}}
{{- define "gantral.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gantral.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "gantral.componentLabels" -}}
{{ include "gantral.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Name of one component's objects, e.g. "release-gantral-sink". */}}
{{- define "gantral.componentName" -}}
{{- printf "%s-%s" (include "gantral.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Service account of one component. */}}
{{- define "gantral.serviceAccountName" -}}
{{- $values := index .root.Values .component }}
{{- if $values.serviceAccount.create }}
{{- default (include "gantral.componentName" .) $values.serviceAccount.name }}
{{- else }}
{{- default "default" $values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "gantral.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{- define "gantral.configMapName" -}}
{{- printf "%s-config" (include "gantral.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "gantral.workflowsConfigMapName" -}}
{{- if .Values.workflowTemplates.existingConfigMap }}
{{- .Values.workflowTemplates.existingConfigMap }}
{{- else }}
{{- printf "%s-workflows" (include "gantral.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "gantral.hasWorkflowTemplates" -}}
{{- if or .Values.workflowTemplates.existingConfigMap .Values.workflowTemplates.files }}true{{ end }}
{{- end }}

{{/* Where the sink reads its signing key; GANTRAL_AUDIT__SIGNING_KEY holds this path. */}}
{{- define "gantral.signingKeyDir" -}}
/var/run/secrets/gantral/audit
{{- end }}

{{/* Where the API reads its attestation key; GANTRAL_ATTESTATION__SIGNING_KEY holds this path. */}}
{{- define "gantral.attestationKeyDir" -}}
/var/run/secrets/gantral/attestation
{{- end }}

{{/* The attestation public keys as the JSON list GANTRAL_ATTESTATION__PUBLIC_KEYS reads. */}}
{{- define "gantral.attestationPublicKeysEnv" -}}
- name: GANTRAL_ATTESTATION__PUBLIC_KEYS
  value: {{ .Values.attestation.publicKeys | toJson | quote }}
{{- end }}

{{/* Refuse to render a release that would not start or would be unsafe. */}}
{{- define "gantral.validate" -}}
{{- include "gantral.validateTemporal" . }}
{{- /* Every profile: the API refuses to start without its attestation key, the worker
and the sink without a public key to verify it with. */}}
{{- if not .Values.attestation.signingKey.existingSecret }}
{{- fail "attestation.signingKey.existingSecret is required: the API signs every call it relays to Temporal with this Ed25519 key (`gantral audit keygen`) and refuses to start without it" }}
{{- end }}
{{- if not .Values.attestation.publicKeys }}
{{- fail "attestation.publicKeys is required: the worker and the sink verify the API's calls with these public keys and refuse to start without one" }}
{{- end }}
{{- range (concat .Values.attestation.publicKeys .Values.audit.publicKeys) }}
{{- if contains "PRIVATE KEY" (toString .) }}
{{- fail "attestation.publicKeys and audit.publicKeys take public keys only: a private key there would hand the signing half to every pod that verifies" }}
{{- end }}
{{- end }}
{{- if and (eq .Values.attestation.signingKey.existingSecret .Values.audit.signingKey.existingSecret) (eq .Values.attestation.signingKey.key .Values.audit.signingKey.key) }}
{{- fail "attestation.signingKey must not be the audit checkpoint key (audit.signingKey): the API and the sink each hold only their own private key" }}
{{- end }}
{{- if eq .Values.profile "production" }}
{{- if not .Values.audit.signingKey.existingSecret }}
{{- fail "audit.signingKey.existingSecret is required when profile=production" }}
{{- end }}
{{- if not .Values.audit.publicKeys }}
{{- fail "audit.publicKeys is required when profile=production (the API verifies with public keys only)" }}
{{- end }}
{{- if not (hasPrefix "https://" .Values.identity.issuer) }}
{{- fail "identity.issuer must be an https URL when profile=production" }}
{{- end }}
{{- if and .Values.identity.jwksUrl (not (hasPrefix "https://" .Values.identity.jwksUrl)) }}
{{- fail "identity.jwksUrl must be an https URL when profile=production" }}
{{- end }}
{{- if .Values.identity.devIssuerEnabled }}
{{- fail "identity.devIssuerEnabled must be false when profile=production" }}
{{- end }}
{{- if not .Values.database.registry.existingSecret }}
{{- fail "database.registry.existingSecret is required when profile=production (the API's registry credentials)" }}
{{- end }}
{{- end }}
{{- if not .Values.database.writer.existingSecret }}
{{- fail "database.writer.existingSecret is required (the sink's writer credentials)" }}
{{- end }}
{{- if .Values.api.ingress.enabled }}
{{- range .Values.api.ingress.hosts }}
{{- range .paths }}
{{- /* "/", "/metrics", "/m", ...: any path that /metrics starts with would route it. */}}
{{- if hasPrefix (trimSuffix "/" .path) "/metrics" }}
{{- fail (printf "api.ingress path %q would expose /metrics; route /v1, /healthz and /readyz only" .path) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- if not .Values.database.reader.existingSecret }}
{{- fail "database.reader.existingSecret is required (the API's read-only credentials)" }}
{{- end }}
{{- if eq .Values.database.writer.existingSecret .Values.database.reader.existingSecret }}
{{- if eq .Values.database.writer.key .Values.database.reader.key }}
{{- fail "database.reader must not be the writer's credentials: the API gets read-only access" }}
{{- end }}
{{- end }}
{{- if and .Values.channels.enabled (not (or .Values.channels.slack.existingSecret .Values.channels.jira.existingSecret)) }}
{{- fail "channels.enabled needs channels.slack.existingSecret or channels.jira.existingSecret: the relay runs only for a configured channel" }}
{{- end }}
{{- if .Values.callbacks.enabled }}
{{- if not .Values.callbacks.existingSecret }}
{{- fail "callbacks.enabled needs callbacks.existingSecret: the signing secret receivers verify each callback with" }}
{{- end }}
{{- if not .Values.callbacks.allowedUrlPrefixes }}
{{- fail "callbacks.enabled needs callbacks.allowedUrlPrefixes: callbacks go only to URLs under them, so with none nothing is delivered" }}
{{- end }}
{{- end }}
{{- if eq .Values.database.writer.existingSecret .Values.database.registry.existingSecret }}
{{- if eq .Values.database.writer.key .Values.database.registry.key }}
{{- fail "database.registry must not be the writer's credentials: only the sink may write the audit log" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Credentials are files, never environment values: each Secret is mounted read-only under
/etc/gantral/secrets/<volume>/ and the setting names the file (`file:<path>`), which the
process reads and masks in its logs (gantral/identity/secrets.py).
*/}}
{{- define "gantral.secretsDir" -}}/etc/gantral/secrets{{- end }}

{{/* An env entry naming a mounted secret file: (dict "name" VAR "volume" VOL "key" KEY). */}}
{{- define "gantral.secretFileEnv" -}}
- name: {{ .name }}
  value: {{ printf "file:%s/%s/%s" (include "gantral.secretsDir" .) .volume .key | quote }}
{{- end }}

{{/* The volume for a Secret's keys: (dict "volume" VOL "secret" NAME "keys" (list KEY...)). */}}
{{- define "gantral.secretVolume" -}}
- name: {{ .volume }}
  secret:
    secretName: {{ .secret }}
    # 0440: readable by the pod's fsGroup only.
    defaultMode: 288
    items:
      {{- range .keys }}
      - key: {{ . }}
        path: {{ . }}
      {{- end }}
{{- end }}

{{/* Its read-only mount: (dict "volume" VOL). */}}
{{- define "gantral.secretMount" -}}
- name: {{ .volume }}
  mountPath: {{ printf "%s/%s" (include "gantral.secretsDir" .) .volume }}
  readOnly: true
{{- end }}

{{/* Static S3 keys from a Secret (mounted as files), or nothing (cloud identity). Call with
(dict "s3" s3.writer/reader "volume" VOL); pair with gantral.s3Volume and gantral.secretMount. */}}
{{- define "gantral.s3CredentialsEnv" -}}
{{- if .s3.existingSecret }}
{{- include "gantral.secretFileEnv" (dict "name" "GANTRAL_S3__ACCESS_KEY_ID" "volume" .volume "key" .s3.accessKeyIdKey) }}
{{ include "gantral.secretFileEnv" (dict "name" "GANTRAL_S3__SECRET_ACCESS_KEY" "volume" .volume "key" .s3.secretAccessKeyKey) }}
{{- end }}
{{- end }}

{{- define "gantral.s3Volume" -}}
{{- if .s3.existingSecret }}
{{- include "gantral.secretVolume" (dict "volume" .volume "secret" .s3.existingSecret "keys" (list .s3.accessKeyIdKey .s3.secretAccessKeyKey)) }}
{{- end }}
{{- end }}

{{- define "gantral.s3Mount" -}}
{{- if .s3.existingSecret }}
{{- include "gantral.secretMount" (dict "volume" .volume) }}
{{- end }}
{{- end }}

{{/* Pod-level fields every component shares; call with (dict "root" $ "component" "api"). */}}
{{- define "gantral.podCommon" -}}
{{- $values := index .root.Values .component }}
serviceAccountName: {{ include "gantral.serviceAccountName" . }}
# No process talks to the Kubernetes API. (IRSA / workload identity inject their own token.)
automountServiceAccountToken: false
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Pod template metadata; call with (dict "root" $ "component" "api"). */}}
{{- define "gantral.podMetadata" -}}
{{- $values := index .root.Values .component }}
labels:
  {{- include "gantral.selectorLabels" . | nindent 2 }}
  {{- with $values.podLabels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
annotations:
  # Roll the pods when the non-secret settings change.
  checksum/config: {{ include (print .root.Template.BasePath "/configmap.yaml") .root | sha256sum }}
  {{- if .root.Values.metrics.scrapeAnnotations }}
  prometheus.io/scrape: "true"
  prometheus.io/port: {{ ternary "8000" (toString .root.Values.metrics.port) (eq .component "api") | quote }}
  prometheus.io/path: /metrics
  {{- end }}
  {{- with $values.podAnnotations }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}

{{/*
Kubernetes waits this long after SIGTERM before killing a pod: the process's own drain
(gracefulShutdownSeconds) plus 10 s to close its clients and publish what it must.
*/}}
{{- define "gantral.gracePeriod" -}}
{{- add (ceil .gracefulShutdownSeconds | int) 10 -}}
{{- end }}

{{/* The API's: readiness failing first (shutdownDelaySeconds), then the drain. */}}
{{- define "gantral.apiGracePeriod" -}}
{{- add (ceil (addf .Values.api.shutdownDelaySeconds .Values.api.gracefulShutdownSeconds) | int) 10 -}}
{{- end }}

{{/*
checkov findings this chart does not fix, each with its reason (checkov reads these
annotations on the workload). Call in a Deployment's or Job's metadata.annotations.
*/}}
{{- define "gantral.checkovSkips" -}}
checkov.io/skip1: CKV_K8S_11=No CPU limit on purpose - limits throttle latency-sensitive Python processes; requests reserve CPU and memory is limited
checkov.io/skip2: CKV_K8S_15=IfNotPresent is right for immutable tags and digests - Always would only add a registry round trip to every start
{{- if not .Values.image.digest }}
checkov.io/skip3: CKV_K8S_43=Set image.digest in production - the tag default keeps installs from a local registry simple
{{- end }}
{{- end }}

{{/*
The approver channels' Secrets, for the API (it verifies Slack's and Jira's calls) and the
channel relay (it calls their APIs): mounted files named by `file:` settings, like every
credential. Each only when its Secret is named.
*/}}
{{- define "gantral.channelSecretsEnv" -}}
{{- with .Values.channels.slack }}
{{- if .existingSecret }}
{{ include "gantral.secretFileEnv" (dict "name" "GANTRAL_SLACK__SIGNING_SECRET" "volume" "slack" "key" .signingSecretKey) }}
{{ include "gantral.secretFileEnv" (dict "name" "GANTRAL_SLACK__BOT_TOKEN" "volume" "slack" "key" .botTokenKey) }}
{{- end }}
{{- end }}
{{- with .Values.channels.jira }}
{{- if .existingSecret }}
{{ include "gantral.secretFileEnv" (dict "name" "GANTRAL_JIRA__API_TOKEN" "volume" "jira" "key" .apiTokenKey) }}
{{ include "gantral.secretFileEnv" (dict "name" "GANTRAL_JIRA__WEBHOOK_SECRET" "volume" "jira" "key" .webhookSecretKey) }}
{{- end }}
{{- end }}
{{- end }}

{{- define "gantral.channelSecretsMount" -}}
{{- if .Values.channels.slack.existingSecret }}
{{ include "gantral.secretMount" (dict "volume" "slack") }}
{{- end }}
{{- if .Values.channels.jira.existingSecret }}
{{ include "gantral.secretMount" (dict "volume" "jira") }}
{{- end }}
{{- end }}

{{- define "gantral.channelSecretsVolume" -}}
{{- with .Values.channels.slack }}
{{- if .existingSecret }}
{{ include "gantral.secretVolume" (dict "volume" "slack" "secret" .existingSecret "keys" (list .signingSecretKey .botTokenKey)) }}
{{- end }}
{{- end }}
{{- with .Values.channels.jira }}
{{- if .existingSecret }}
{{ include "gantral.secretVolume" (dict "volume" "jira" "secret" .existingSecret "keys" (list .apiTokenKey .webhookSecretKey)) }}
{{- end }}
{{- end }}
{{- end }}

{{/* The components this release runs: the core three, then the optional ones enabled. */}}
{{- define "gantral.components" -}}
{{- $components := list "api" "worker" "sink" }}
{{- if .Values.channels.enabled }}{{ $components = append $components "channels" }}{{ end }}
{{- if .Values.callbacks.enabled }}{{ $components = append $components "callbacks" }}{{ end }}
{{- join " " $components }}
{{- end }}

{{/*
Temporal TLS and API key, for every process that talks to Temporal. The TLS switches and
the PEM paths are in the ConfigMap (gantral.temporalConfig); the Secrets are mounted here.
*/}}
{{- define "gantral.temporalTLSDir" -}}
{{ include "gantral.secretsDir" . }}/temporal-tls
{{- end }}

{{- define "gantral.temporalTLSKeys" -}}
{{- $keys := list }}
{{- with .Values.temporal.tls }}
{{- if .clientCertKey }}{{ $keys = append $keys .clientCertKey }}{{ end }}
{{- if .clientKeyKey }}{{ $keys = append $keys .clientKeyKey }}{{ end }}
{{- if .caCertKey }}{{ $keys = append $keys .caCertKey }}{{ end }}
{{- end }}
{{- join " " $keys }}
{{- end }}

{{- define "gantral.temporalCodecDir" -}}
{{ include "gantral.secretsDir" . }}/temporal-codec
{{- end }}

{{- define "gantral.temporalConfig" -}}
{{- with .Values.temporal.codec }}
{{- if .enabled }}
{{- /* Each key as a `file:` reference to its mounted Secret entry (resolved and masked at start). */}}
{{- $keys := dict }}
{{- range $id := .keyIds }}
{{- $_ := set $keys $id (printf "file:%s/%s" (include "gantral.temporalCodecDir" $) $id) }}
{{- end }}
GANTRAL_TEMPORAL__CODEC__ENABLED: "true"
GANTRAL_TEMPORAL__CODEC__KEYS: {{ $keys | toJson | quote }}
GANTRAL_TEMPORAL__CODEC__CURRENT: {{ .currentKeyId | default (first .keyIds) | quote }}
{{- with .corsOrigins }}
GANTRAL_TEMPORAL__CODEC__CORS_ORIGINS: {{ . | toJson | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- with .Values.temporal.tls }}
{{- if .enabled }}
GANTRAL_TEMPORAL__TLS__ENABLED: "true"
{{- with .serverName }}
GANTRAL_TEMPORAL__TLS__SERVER_NAME: {{ . | quote }}
{{- end }}
{{- if .existingSecret }}
{{- if .clientCertKey }}
GANTRAL_TEMPORAL__TLS__CLIENT_CERT: {{ printf "%s/%s" (include "gantral.temporalTLSDir" $) .clientCertKey | quote }}
GANTRAL_TEMPORAL__TLS__CLIENT_KEY: {{ printf "%s/%s" (include "gantral.temporalTLSDir" $) .clientKeyKey | quote }}
{{- end }}
{{- if .caCertKey }}
GANTRAL_TEMPORAL__TLS__SERVER_CA_CERT: {{ printf "%s/%s" (include "gantral.temporalTLSDir" $) .caCertKey | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* The API key as a `file:` reference to its mounted Secret (resolved and masked at start). */}}
{{- define "gantral.temporalEnv" -}}
{{- with .Values.temporal.apiKey }}
{{- if .existingSecret }}
{{- include "gantral.secretFileEnv" (dict "name" "GANTRAL_TEMPORAL__API_KEY" "volume" "temporal-api-key" "key" .key) }}
{{- end }}
{{- end }}
{{- end }}

{{- define "gantral.temporalMounts" -}}
{{- if and .Values.temporal.tls.enabled .Values.temporal.tls.existingSecret }}
{{- include "gantral.secretMount" (dict "volume" "temporal-tls") }}
{{- end }}
{{- if .Values.temporal.codec.enabled }}
{{ include "gantral.secretMount" (dict "volume" "temporal-codec") }}
{{- end }}
{{- if .Values.temporal.apiKey.existingSecret }}
{{ include "gantral.secretMount" (dict "volume" "temporal-api-key") }}
{{- end }}
{{- end }}

{{- define "gantral.temporalVolumes" -}}
{{- if and .Values.temporal.tls.enabled .Values.temporal.tls.existingSecret }}
{{- include "gantral.secretVolume" (dict "volume" "temporal-tls" "secret" .Values.temporal.tls.existingSecret "keys" (splitList " " (include "gantral.temporalTLSKeys" .))) }}
{{- end }}
{{- if .Values.temporal.apiKey.existingSecret }}
{{ include "gantral.secretVolume" (dict "volume" "temporal-api-key" "secret" .Values.temporal.apiKey.existingSecret "keys" (list .Values.temporal.apiKey.key)) }}
{{- end }}
{{- with .Values.temporal.codec }}
{{- if .enabled }}
{{ include "gantral.secretVolume" (dict "volume" "temporal-codec" "secret" .existingSecret "keys" .keyIds) }}
{{- end }}
{{- end }}
{{- end }}

{{/* Refuse Temporal TLS / API-key values the processes would refuse (gantral/settings/). */}}
{{- define "gantral.validateTemporal" -}}
{{- with .Values.temporal }}
{{- if and .apiKey.existingSecret (not .tls.enabled) }}
{{- fail "temporal.apiKey needs temporal.tls.enabled: the API key is a bearer token and must not cross the network in the clear" }}
{{- end }}
{{- if and .tls.existingSecret (not .tls.enabled) }}
{{- fail "temporal.tls.existingSecret is set but temporal.tls.enabled is false: enable TLS or remove the Secret" }}
{{- end }}
{{- if and .tls.existingSecret (ne (empty .tls.clientCertKey) (empty .tls.clientKeyKey)) }}
{{- fail "temporal.tls needs both clientCertKey and clientKeyKey, or neither" }}
{{- end }}
{{- if and .tls.existingSecret (empty .tls.clientCertKey) (empty .tls.caCertKey) }}
{{- fail "temporal.tls.existingSecret names no key: set clientCertKey/clientKeyKey (mTLS) or caCertKey (a private CA)" }}
{{- end }}
{{- if .codec.enabled }}
{{- if not .codec.existingSecret }}
{{- fail "temporal.codec.enabled needs temporal.codec.existingSecret: the Secret holding the keys" }}
{{- end }}
{{- if not .codec.keyIds }}
{{- fail "temporal.codec.enabled needs temporal.codec.keyIds: the entries of that Secret to decrypt with" }}
{{- end }}
{{- if and .codec.currentKeyId (not (has .codec.currentKeyId .codec.keyIds)) }}
{{- fail "temporal.codec.currentKeyId must be one of temporal.codec.keyIds" }}
{{- end }}
{{- if and (not .codec.currentKeyId) (gt (len .codec.keyIds) 1) }}
{{- fail "temporal.codec.currentKeyId must name the encrypting key among several keyIds" }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
