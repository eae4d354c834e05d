{
  "targets": [
    {
      "target_name": "fprl_native",
      "sources": ["src/native/addon.cc", "src/native/kernels.cc", "src/native/bandit.cc", "src/native/conv.cc", "src/native/fused.cc", "src/native/direct-conv.cc"],
      "cflags_cc": ["-O3", "-std=c++17", "-ffp-contract=off"],
      "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "-std=c++17", "-ffp-contract=off"] },
      "msvs_settings": { "VCCLCompilerTool": { "Optimization": 2, "AdditionalOptions": ["/arch:AVX2"] } }
    }
  ]
}
