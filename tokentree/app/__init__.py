"""The interactive view: Textual widgets over snapshots of the core's tree."""
