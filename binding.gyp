{
  "targets": [
    {
      "target_name": "fprl_native",
      "sources": ["src/native/fprl_native.cc"],
      "cflags_cc": ["-O3", "-std=c++17"],
      "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "-std=c++17"] },
      "msvs_settings": { "VCCLCompilerTool": { "Optimization": 2, "AdditionalOptions": ["/arch:AVX2"] } }
    }
  ]
}
