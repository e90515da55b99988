{
  "targets": [
    {
      "target_name": "sluice_native",
      "sources": ["src/addon.c", "src/relay.c", "src/dial.c", "src/listen.c", "src/pipes.c", "src/events.c", "src/slots.c", "src/udp.c", "src/addr.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-std=gnu11"],
      "cflags!": ["-fno-exceptions"]
    }
  ]
}
