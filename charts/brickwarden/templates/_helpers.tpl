{{/* Chart name, truncated to the 63 characters of a label value. */}}
{{- define "brickwarden.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Full name of the release's objects: the release name, prefixed with the chart name unless it
already contains it. Cluster-scoped objects (ClusterRole, binding) use it too, so that several
releases (shards) can coexist.
*/}}
{{- define "brickwarden.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "brickwarden.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "brickwarden.labels" -}}
helm.sh/chart: {{ include "brickwarden.chart" . }}
{{ include "brickwarden.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: brickwarden
{{- end -}}

{{/* Labels that select the controller pods (immutable in a Deployment: keep them stable). */}}
{{- define "brickwarden.selectorLabels" -}}
app.kubernetes.io/name: {{ include "brickwarden.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}

{{- define "brickwarden.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "brickwarden.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* image reference: repository:tag or repository@digest. */}}
{{- define "brickwarden.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
The Prometheus rule groups of files/monitoring/*.yaml, as a YAML list. A file may hold a
PrometheusRule object (its spec.groups are used) or a plain Prometheus rule file (`groups:`);
other files (promtool unit tests, ServiceMonitors) are ignored.
*/}}
{{- define "brickwarden.ruleGroups" -}}
{{- $groups := list -}}
{{- range $path, $_ := .Files.Glob "files/monitoring/**.{yaml,yml}" -}}
{{- $doc := $.Files.Get $path | fromYaml -}}
{{- if and (eq (get $doc "kind" | toString) "PrometheusRule") (hasKey $doc "spec") -}}
{{- $groups = concat $groups (default list $doc.spec.groups) -}}
{{- else if hasKey $doc "groups" -}}
{{- $groups = concat $groups (default list $doc.groups) -}}
{{- end -}}
{{- end -}}
{{- toYaml $groups -}}
{{- end -}}
