"""The stack's assembly: template.yaml -> the SAM transform -> moto, behind
the local AWS endpoint."""
