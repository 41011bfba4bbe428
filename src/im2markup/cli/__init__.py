"""The `im2markup` console command: one thin module per sub-command."""
