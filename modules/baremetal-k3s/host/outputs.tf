output "id" {
  description = "The install's generation: the resource instance id recorded on the host."
  value       = terraform_data.this.id
}
