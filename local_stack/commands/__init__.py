"""What a person runs (through make): `make api`, `demo`, `invoke`, `sync`,
`redrive`, `aws`, `wait`, `logs`, and where a running stack keeps its state."""
