"""Pure domain model: states, transitions, instance records. No I/O."""
