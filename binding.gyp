{
  "targets": [
    {
      "target_name": "ipcemu",
      "sources": [
        "native/addon.cc",
        "native/errors.cc",
        "native/here.cc",
        "native/listen.cc",
        "native/msg.cc",
        "native/pipe.cc",
        "native/sem.cc",
        "native/sock.cc",
        "native/wait.cc"
      ],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-std=c++17", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc!": ["-std=gnu++17", "-std=gnu++20"],
      "libraries": ["-lpthread"]
    }
  ]
}
