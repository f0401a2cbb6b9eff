module Snn.Core.Tests.Native.TorchNativeLibrariesTests

open System
open System.IO
open Expecto
open TorchSharp
open Snn.Core.Native

/// Makes empty files under a fresh temporary folder (deleted when the test process exits); returns the folder.
let private tree (files: string list) =
    let root = Snn.Tests.TempFolders.create "" "snn-native"

    for f in files do
        let path = Path.Combine(root, f)
        Directory.CreateDirectory(Path.GetDirectoryName path) |> ignore
        File.WriteAllBytes(path, [||])

    root

let private libtorch folder =
    [ for f in TorchNativeLibraries.LibtorchFiles -> Path.Combine(folder, f) ]

[<Tests>]
let tests =
    testList
        "TorchNativeLibraries"
        [ testCase "NuGet's normal form drops a zero fourth part and build metadata"
          <| fun () ->
              Expect.equal (TorchNativeLibraries.NuGetVersion "2.10.0.0") "2.10.0" "zero fourth part"
              Expect.equal (TorchNativeLibraries.NuGetVersion "2.10.0.1") "2.10.0.1" "non-zero fourth part kept"
              Expect.equal (TorchNativeLibraries.NuGetVersion "0.107.0+abc123") "0.107.0" "build metadata"
              Expect.equal (TorchNativeLibraries.NuGetVersion "1.2.0.0-beta.1") "1.2.0-beta.1" "prerelease kept"

          testCase "an application's output folder is found first"
          <| fun () ->
              let native = Path.Combine("runtimes", "linux-x64", "native")

              let root =
                  tree (
                      "TorchSharp.dll"
                      :: Path.Combine(native, TorchNativeLibraries.GlueFile)
                      :: libtorch native
                  )

              match TorchNativeLibraries.Locate(Path.Combine(root, "TorchSharp.dll"), "2.10.0.0") with
              | null -> failtest "no layout found"
              | layout ->
                  Expect.equal layout.LibtorchFolder (Path.Combine(root, native)) "libtorch folder"
                  Expect.equal layout.Glue (Path.Combine(root, native, TorchNativeLibraries.GlueFile)) "glue"
                  Expect.isFalse layout.FromPackageFolder "application layout"

          testCase "a NuGet package folder (F# Interactive, .NET Interactive) is found from TorchSharp.dll's path"
          <| fun () ->
              let native = Path.Combine("runtimes", "linux-x64", "native")
              let torchsharp = Path.Combine("torchsharp", "0.107.0")
              let libtorchNative = Path.Combine("libtorch-cpu-linux-x64", "2.10.0", native)

              let root =
                  tree (
                      Path.Combine(torchsharp, "lib", "net8.0", "TorchSharp.dll")
                      :: Path.Combine(torchsharp, native, TorchNativeLibraries.GlueFile)
                      :: libtorch libtorchNative
                  )

              let dll = Path.Combine(root, torchsharp, "lib", "net8.0", "TorchSharp.dll")

              match TorchNativeLibraries.Locate(dll, "2.10.0.0") with
              | null -> failtest "no layout found"
              | layout ->
                  Expect.equal layout.LibtorchFolder (Path.Combine(root, libtorchNative)) "libtorch package folder"

                  Expect.equal
                      layout.Glue
                      (Path.Combine(root, torchsharp, native, TorchNativeLibraries.GlueFile))
                      "glue"

                  Expect.isTrue layout.FromPackageFolder "package layout"

              Expect.isNull (TorchNativeLibraries.Locate(dll, "2.9.0.0")) "another libtorch version is not taken"
              Expect.isNull (TorchNativeLibraries.Locate(dll, null)) "an unknown libtorch version finds nothing"

          testCase "an incomplete folder is not a layout"
          <| fun () ->
              let native = Path.Combine("runtimes", "linux-x64", "native")
              let root = tree ("TorchSharp.dll" :: libtorch native)
              Expect.isNull (TorchNativeLibraries.Locate(Path.Combine(root, "TorchSharp.dll"), "2.10.0.0")) "no glue"

          testCase "this process runs on the test application's own libtorch, whatever else the machine holds"
          <| fun () ->
              use t = torch.ones 3L
              Expect.equal (t.sum().item<float32> ()) 3.0f "a tensor works"

              if OperatingSystem.IsLinux() then
                  let own = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native")
                  let loaded = TorchNativeLibraries.Loaded |> List.ofSeq

                  Expect.equal
                      loaded.Length
                      4
                      $"libtorch's three libraries and the glue were loaded by path: %A{loaded}"

                  for f in loaded do
                      Expect.stringStarts f own "loaded from the application's folder"

                  let mapped =
                      File.ReadAllLines "/proc/self/maps"
                      |> Array.choose (fun l ->
                          match l.IndexOf '/' with
                          | -1 -> None
                          | i -> Some l[i..])
                      |> Array.filter (fun p ->
                          let name = Path.GetFileName p

                          name.StartsWith "libtorch"
                          || name.StartsWith "libc10"
                          || name = TorchNativeLibraries.GlueFile)
                      |> Array.distinct

                  for p in mapped do
                      Expect.stringStarts p own "every libtorch file mapped into the process is the application's" ]
