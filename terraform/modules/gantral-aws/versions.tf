terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # manage_master_user_password needs >= 5.0; object lock configuration as its own
      # resource needs >= 4.0.
      version = ">= 5.0, < 7.0"
    }
  }
}
