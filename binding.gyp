{
  # node-gyp build of the same C++ sources, CPU backend only (the default build is CMakeLists.txt
  # via cmake-js, which adds CUDA when nvcc is present). Kept building by .ci/run.
  "targets": [
    {
      "target_name": "plast",
      "sources": [
        "<!@(node -p \"require('fs').readdirSync('native/src/common').filter(f=>f.endsWith('.cc')).map(f=>'native/src/common/'+f).join(' ')\")",
        "<!@(node -p \"require('fs').readdirSync('native/src/ops').filter(f=>f.endsWith('.cc')).map(f=>'native/src/ops/'+f).join(' ')\")",
        "<!@(node -p \"require('fs').readdirSync('native/src/cpu').filter(f=>f.endsWith('.cc')).map(f=>'native/src/cpu/'+f).join(' ')\")",
        "<!@(node -p \"require('fs').readdirSync('native/src/registry').filter(f=>f.endsWith('.cc')).map(f=>'native/src/registry/'+f).join(' ')\")",
        "<!@(node -p \"require('fs').readdirSync('native/src/model').filter(f=>f.endsWith('.cc')).map(f=>'native/src/model/'+f).join(' ')\")",
        "<!@(node -p \"require('fs').readdirSync('native/src/addon').filter(f=>f.endsWith('.cc')).map(f=>'native/src/addon/'+f).join(' ')\")"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native/include",
        "native/src"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++20", "-std=gnu++17"],
      "cflags_cc": ["-std=gnu++17", "-O3", "-fexceptions"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17"
      }
    }
  ]
}
