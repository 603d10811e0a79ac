"""The targets pipec ships itself (`json`, `debug`, `local`), registered as plugins like
any other through the `pipec` entry-point group."""
