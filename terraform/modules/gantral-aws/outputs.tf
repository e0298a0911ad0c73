output "region" {
  description = "Region holding every data store of this Gantral."
  value       = data.aws_region.current.name
}

output "bucket_name" {
  description = "Audit bucket: GANTRAL_S3__BUCKET (Helm: s3.bucket)."
  value       = aws_s3_bucket.audit.id
}

output "bucket_arn" {
  description = "Audit bucket ARN."
  value       = aws_s3_bucket.audit.arn
}

output "object_lock_retention_days" {
  description = "Default COMPLIANCE retention; use it for GANTRAL_S3__RETENTION_DAYS (Helm: s3.retentionDays)."
  value       = var.object_lock_retention_days
}

output "db_address" {
  description = "PostgreSQL host name."
  value       = aws_db_instance.audit.address
}

output "db_port" {
  description = "PostgreSQL port."
  value       = aws_db_instance.audit.port
}

output "db_name" {
  description = "Database holding the gantral_audit schema."
  value       = aws_db_instance.audit.db_name
}

output "db_security_group_id" {
  description = "Security group guarding PostgreSQL."
  value       = aws_security_group.db.id
}

output "db_master_user_secret_arn" {
  description = "Secrets Manager secret (managed by RDS) with the owner's credentials, for migrations and creating the login roles."
  value       = aws_db_instance.audit.master_user_secret[0].secret_arn
}

output "signing_key_secret_arn" {
  description = "Secret to put the sink's Ed25519 signing key PEM into."
  value       = aws_secretsmanager_secret.signing_key.arn
}

output "attestation_key_secret_arn" {
  description = "Secret to put the API's Ed25519 attestation key PEM into."
  value       = aws_secretsmanager_secret.attestation_key.arn
}

output "sink_database_url_secret_arn" {
  description = "Secret to put the sink's PostgreSQL URI into (writer)."
  value       = aws_secretsmanager_secret.sink_database_url.arn
}

output "api_database_url_secret_arn" {
  description = "Secret to put the API's PostgreSQL URI into (reader)."
  value       = aws_secretsmanager_secret.api_database_url.arn
}

output "api_registry_url_secret_arn" {
  description = "Secret to put the API's registry PostgreSQL URI into."
  value       = aws_secretsmanager_secret.api_registry_url.arn
}

output "sink_iam_policy_arn" {
  description = "Attach to the sink's IRSA / Pod Identity role (null when create_iam_policies = false)."
  value       = one(aws_iam_policy.sink[*].arn)
}

output "api_iam_policy_arn" {
  description = "Attach to the API's IRSA / Pod Identity role (null when create_iam_policies = false)."
  value       = one(aws_iam_policy.api[*].arn)
}
