{
  "targets": [
    {
      "target_name": "isulad_native",
      "sources": ["isulad_native.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
