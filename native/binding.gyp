{
  "targets": [
    {
      "target_name": "phasic_engine",
      "sources": [
        "<!@(node -p \"require('fs').readdirSync('src',{recursive:true}).filter(f=>f.endsWith('.cpp')).sort().map(f=>'src/'+f).join(' ')\")",
        "<!@(node -p \"require('fs').readdirSync('binding').filter(f=>f.endsWith('.cpp')).sort().map(f=>'binding/'+f).join(' ')\")"
      ],
      "actions": [
        {
          "action_name": "engine_source_header",
          "inputs": [
            "../scripts/engine-source.mjs",
            "<!@(node -p \"require('fs').readdirSync('src',{recursive:true,withFileTypes:true}).filter(e=>e.isFile()).map(e=>require('path').join(e.parentPath??e.path,e.name)).sort().join(' ')\")"
          ],
          "outputs": ["<(SHARED_INTERMEDIATE_DIR)/phasic_engine_source.h"],
          "action": ["node", "../scripts/engine-source.mjs", "--header", "<(SHARED_INTERMEDIATE_DIR)"]
        }
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "src",
        "<(SHARED_INTERMEDIATE_DIR)"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "PHASIC_VERSION=<!(node -p \"JSON.stringify(require('../package.json').version)\")"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["-std=c++20", "-O3", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++20",
        "OTHER_CPLUSPLUSFLAGS": ["-O3"]
      }
    }
  ]
}
