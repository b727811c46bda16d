{
  "targets": [
    {
      "target_name": "tally_native",
      "sources": ["src/prg.c", "src/aes-x86.c", "src/round.c", "src/shamir.c", "src/ed25519.c"],
      "cflags": ["-O3", "-std=c11", "-Wall", "-Wextra", "-fno-trapping-math", "-ffp-contract=off"],
      "xcode_settings": { "OTHER_CFLAGS": ["-O3", "-std=c11", "-fno-trapping-math", "-ffp-contract=off"] }
    }
  ]
}
