"""What a user runs (`vap <command>`): thin layers over the parts in data/, models/ and tasks/."""
