{{/* Base name of every object: the release name, or <release>-natsbus when the release name does not say natsbus. */}}
{{- define "natsbus.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "natsbus.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: natsbus
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* The operator pods; selector labels never change across upgrades. */}}
{{- define "natsbus.selectorLabels" -}}
app.kubernetes.io/name: natsbus
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "natsbus.operatorName" -}}{{ include "natsbus.fullname" . }}-operator{{- end -}}
{{- define "natsbus.webhookServiceName" -}}{{ include "natsbus.fullname" . }}-webhook{{- end -}}
{{- define "natsbus.tlsSecretName" -}}
{{- if eq .Values.webhook.tls.mode "secret" -}}
{{- .Values.webhook.tls.secretName -}}
{{- else -}}
{{- include "natsbus.fullname" . }}-webhook-tls
{{- end -}}
{{- end -}}

{{- define "natsbus.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "natsbus.operatorName" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "natsbus.imageTag" -}}{{ default .Chart.AppVersion .Values.image.tag }}{{- end -}}

{{/*
The webhook's serving certificate when the chart generates it: reused from the
Secret of a previous install (so upgrades do not rotate the CA under running
pods' feet), else made now with helm's genCA/genSignedCert. Returns a dict with
ca, cert, key (PEM), rendered once per template run via a cache in .Values.
*/}}
{{- define "natsbus.generatedTls" -}}
{{- $secretName := include "natsbus.tlsSecretName" . -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace $secretName -}}
{{- if and $existing $existing.data (index $existing.data "ca.crt") (index $existing.data "tls.crt") (index $existing.data "tls.key") -}}
ca: {{ index $existing.data "ca.crt" }}
cert: {{ index $existing.data "tls.crt" }}
key: {{ index $existing.data "tls.key" }}
{{- else -}}
{{- $service := include "natsbus.webhookServiceName" . -}}
{{- $dnsNames := list $service (printf "%s.%s" $service .Release.Namespace) (printf "%s.%s.svc" $service .Release.Namespace) (printf "%s.%s.svc.cluster.local" $service .Release.Namespace) -}}
{{- $days := int .Values.webhook.tls.validityDays -}}
{{- $ca := genCA (printf "%s-webhook-ca" (include "natsbus.fullname" .)) $days -}}
{{- $cert := genSignedCert (printf "%s.%s.svc" $service .Release.Namespace) nil $dnsNames $days $ca -}}
ca: {{ $ca.Cert | b64enc }}
cert: {{ $cert.Cert | b64enc }}
key: {{ $cert.Key | b64enc }}
{{- end -}}
{{- end -}}

{{/* Labels of a monitoring object: the chart's, monitoring.labels, then the object's own. */}}
{{- define "natsbus.monitoringLabels" -}}
{{- $root := index . 0 -}}
{{- $own := index . 1 -}}
{{- include "natsbus.labels" $root }}
{{- $extra := merge (dict) $own $root.Values.monitoring.labels -}}
{{- with $extra }}
{{ toYaml . }}
{{- end -}}
{{- end -}}
