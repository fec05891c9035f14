"""The template room: template.yaml read and transformed by the SAM translator, and what
is left of CloudFormation's intrinsics; every other room builds on it."""
