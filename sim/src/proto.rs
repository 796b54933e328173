//! Wire protocol between the preload library and the simulator server.
