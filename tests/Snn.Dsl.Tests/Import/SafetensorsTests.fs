module Snn.Dsl.Tests.Import.SafetensorsTests

open System
open System.IO
open System.Buffers.Binary
open Expecto
open Snn.Dsl.Import

[<Tests>]
let tests =
    testList
        "Import.Safetensors"
        [ test "float32 and int64 tensors and metadata round-trip through a safetensors file" {
              let random = Random 5

              let a =
                  Safetensors.F32([| 2L; 3L |], Array.init 6 (fun _ -> float32 (random.NextDouble() - 0.5)))

              let b = Safetensors.I64([||], [| 42L |])
              let c = Safetensors.F32([| 0L |], [||])

              let path =
                  Path.Combine(Path.GetTempPath(), $"snn-st-%d{Random.Shared.Next()}.safetensors")

              let tensors = [ "conv1.weight", a; "bn1.num_batches_tracked", b; "empty", c ]
              Safetensors.write path [ "format", "pt" ] tensors
              let meta, back = Safetensors.read path
              Expect.equal meta [ "format", "pt" ] "metadata"
              Expect.equal back tensors "tensors, in file order"

              // The layout PyTorch's reader expects: u64 header length (a multiple of 8), JSON, data.
              let bytes = File.ReadAllBytes path
              let n = BinaryPrimitives.ReadUInt64LittleEndian(ReadOnlySpan(bytes, 0, 8))
              Expect.equal (n % 8UL) 0UL "header padded to 8 bytes"
              Expect.equal (int64 bytes.Length) (8L + int64 n + 6L * 4L + 8L) "data follows the header"
              let header = Text.Encoding.UTF8.GetString(bytes, 8, int n)

              Expect.stringContains
                  header
                  "\"conv1.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}"
                  "entry"

              File.Delete path
          }

          test "a file that is not safetensors is refused naming the file" {
              let path =
                  Path.Combine(Path.GetTempPath(), $"snn-st-%d{Random.Shared.Next()}.safetensors")

              File.WriteAllBytes(path, [| 255uy; 255uy; 0uy; 0uy; 0uy; 0uy; 0uy; 0uy; 1uy |])

              Expect.throwsC (fun () -> Safetensors.read path |> ignore) (fun e ->
                  Expect.stringContains e.Message path "names the file")

              File.Delete path
          } ]
