"""The commands layer: one module per `dlzoo` subcommand.

Each command module has `add_parser(subparsers)`, which declares the subcommand's flags, and
`run(args) -> int`, which calls one library function (an engine) and prints what it returned.
At its top a command module imports only what its parser needs (no Keras, no NumPy), so that
`dlzoo --help` and `dlzoo list` start at once; `run` imports the engine it calls. `dlzoo.cli`
builds the parser from them (its COMMANDS table) and runs the one asked for.

Also here: `quickstart` (the main job end to end), `transfer_demo` (the transfer experiment it
reduces) and `teaching` (the lectures' learning rules in NumPy, with their printed tables).
Shared: `_options` (flags, parsers, the flag checks) and `_output` (what several commands print).
"""
