{
  "targets": [
    {
      "target_name": "tally_native",
      "sources": ["src/prg.c", "src/aes-x86.c"],
      "cflags": ["-O3", "-std=c11", "-Wall", "-Wextra"],
      "xcode_settings": { "OTHER_CFLAGS": ["-O3", "-std=c11"] }
    }
  ]
}
