{
  "targets": [
    {
      "target_name": "livetrain_native",
      "sources": ["src/addon.cc", "src/conv.cc", "src/ew.cc", "src/ewAddon.cc", "src/loss.cc", "src/matmul.cc", "src/optim.cc", "src/pool.cc"],
      "cflags_cc": ["-std=c++17", "-O3", "-fopenmp", "-fexceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "ldflags": ["-fopenmp"],
      "libraries": ["-ldnnl"]
    }
  ]
}
