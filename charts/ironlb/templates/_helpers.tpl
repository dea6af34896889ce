{{/* Labels shared by every object; component is added where it applies. */}}
{{- define "ironlb.labels" -}}
app.kubernetes.io/name: ironlb
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "ironlb.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "ironlb.memberlistSecret" -}}
{{ .Values.speaker.memberlist.existingSecret | default "ironlb-memberlist" }}
{{- end -}}

{{/* ironlb.generatedRoles renders a generated role file (files/rbac/NAME.yaml:
a ClusterRole and a Role) with the Role moved to the release namespace. */}}
{{- define "ironlb.generatedRoles" -}}
{{- $ctx := index . 0 -}}
{{- range $doc := regexSplit "(?m)^---\\s*$" ($ctx.Files.Get (printf "files/rbac/%s.yaml" (index . 1))) -1 }}
{{- $obj := fromYaml $doc }}
{{- if $obj }}
{{- if eq $obj.kind "Role" }}
{{- $_ := set $obj.metadata "namespace" $ctx.Release.Namespace }}
{{- end }}
{{- $_ := set $obj.metadata "labels" (include "ironlb.labels" $ctx | fromYaml) }}
---
{{ toYaml $obj }}
{{- end }}
{{- end }}
{{- end -}}
