{{/* Names and labels shared by every template. */}}
{{- define "diagnosis-operator.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "diagnosis-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "diagnosis-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "diagnosis-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "diagnosis-operator.labels" -}}
{{ include "diagnosis-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: diagnosis-operator
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "diagnosis-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "diagnosis-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "diagnosis-operator.checks" -}}
{{- if and (not .Values.peering.enabled) (not .Values.leaderElection.enabled) (gt (int .Values.replicaCount) 1) -}}
{{- fail "replicaCount > 1 needs peering.enabled=true or leaderElection.enabled=true (one replica acts at a time)" -}}
{{- end -}}
{{- if and (not .Values.watch.allNamespaces) (empty .Values.watch.namespaces) -}}
{{- fail "watch.namespaces must list namespaces when watch.allNamespaces=false" -}}
{{- end -}}
{{- if and .Values.alertmanagerWebhook.enabled (or (empty .Values.alertmanagerWebhook.namespace) (empty .Values.alertmanagerWebhook.policy)) -}}
{{- fail "alertmanagerWebhook.enabled needs alertmanagerWebhook.namespace and alertmanagerWebhook.policy (the DiagnosisPolicy POST /alertmanager routes to)" -}}
{{- end -}}
{{- end -}}

{{/* Where the Alertmanager webhook's token Secret is mounted. */}}
{{- /* kopf peering is used only without leader election (the Lease says who acts). */ -}}
{{- define "diagnosis-operator.peering" -}}
{{- if and .Values.peering.enabled (not .Values.leaderElection.enabled) -}}true{{- end -}}
{{- end -}}

{{- define "diagnosis-operator.webhookTokenDir" -}}
/var/run/secrets/diagnosis.dev/alertmanager-webhook
{{- end -}}

{{/*
Namespaces whose policies the operator serves with Secrets and writes (own namespace):
tenancy.namespaces, else watch.namespaces when not watching all namespaces.
*/}}
{{- define "diagnosis-operator.tenantNamespaces" -}}
{{- $list := .Values.tenancy.namespaces -}}
{{- if and (not $list) (not .Values.watch.allNamespaces) -}}
{{- $list = .Values.watch.namespaces -}}
{{- end -}}
{{- toJson (default (list) $list) -}}
{{- end -}}

{{/* Where the operator may read Secrets: the tenant namespaces and granted secretNamespaces. */}}
{{- define "diagnosis-operator.secretNamespaces" -}}
{{- $all := include "diagnosis-operator.tenantNamespaces" . | fromJsonArray -}}
{{- range .Values.tenancy.grants -}}
{{- $all = concat $all (default (list) .secretNamespaces) -}}
{{- end -}}
{{- toJson (uniq $all) -}}
{{- end -}}

{{/* Where the operator may write objects: the tenant namespaces and granted writeNamespaces. */}}
{{- define "diagnosis-operator.writeNamespaces" -}}
{{- $all := include "diagnosis-operator.tenantNamespaces" . | fromJsonArray -}}
{{- range .Values.tenancy.grants -}}
{{- $all = concat $all (default (list) .writeNamespaces) -}}
{{- end -}}
{{- toJson (uniq $all) -}}
{{- end -}}
