"""Customer domain events: one per successful create, update and delete, fanned out by SNS."""
