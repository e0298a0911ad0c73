# One Gantral region: its data stores in eu-central-1, nothing shared with other regions.
# For a second region, copy this root (own state, own provider region): audit data, the
# database and the keys then never leave the region they serve.
#
#   terraform init && terraform apply -var vpc_id=vpc-... -var 'database_subnet_ids=["subnet-a","subnet-b"]' \
#     -var 'allowed_security_group_ids=["sg-..."]'
#
# No credentials here: the AWS provider uses your environment (SSO profile, role, ...).

terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0, < 7.0"
    }
  }

  # Keep state remote and encrypted; state holds no secret values, but it maps your estate.
  # backend "s3" {
  #   bucket  = "example-terraform-state"
  #   key     = "gantral/eu-central-1.tfstate"
  #   region  = "eu-central-1"
  #   encrypt = true
  # }
}

variable "region" {
  description = "The one region this Gantral's data lives in."
  type        = string
  default     = "eu-central-1"
}

variable "vpc_id" {
  description = "VPC of the Kubernetes cluster that runs Gantral."
  type        = string
}

variable "database_subnet_ids" {
  description = "Private subnets in two or more availability zones."
  type        = list(string)
}

variable "allowed_security_group_ids" {
  description = "Security groups of the cluster's nodes or pods."
  type        = list(string)
  default     = []
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      "gantral/data-region" = var.region
    }
  }
}

module "gantral" {
  source = "../../modules/gantral-aws"

  name                       = "gantral-${var.region}"
  vpc_id                     = var.vpc_id
  database_subnet_ids        = var.database_subnet_ids
  allowed_security_group_ids = var.allowed_security_group_ids

  # Seven years of COMPLIANCE retention for audit objects.
  object_lock_retention_days = 2555
}

output "helm_values" {
  description = "Non-secret Helm values for this region's release (see docs/deployment.md)."
  value = {
    s3 = {
      region        = module.gantral.region
      bucket        = module.gantral.bucket_name
      retentionDays = module.gantral.object_lock_retention_days
    }
    database_host = module.gantral.db_address
    database_port = module.gantral.db_port
    database_name = module.gantral.db_name
  }
}

output "secrets_to_fill" {
  description = "Secrets created empty: put their values out of band, then sync them to Kubernetes."
  value = {
    signing_key = module.gantral.signing_key_secret_arn
    attestation = module.gantral.attestation_key_secret_arn
    sink_db_url = module.gantral.sink_database_url_secret_arn
    api_db_url  = module.gantral.api_database_url_secret_arn
    registry    = module.gantral.api_registry_url_secret_arn
    db_owner    = module.gantral.db_master_user_secret_arn
    sink_policy = module.gantral.sink_iam_policy_arn
    api_policy  = module.gantral.api_iam_policy_arn
  }
}
