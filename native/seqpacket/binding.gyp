{
  "targets": [
    {
      "target_name": "seqpacket",
      "sources": ["seqpacket.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
