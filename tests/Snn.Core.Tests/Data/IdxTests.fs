module Snn.Core.Tests.Data.IdxTests

open System.IO
open Expecto
open TorchSharp
open Snn.Core.Data
open Snn.Core.Tests.Data.DataFixtures

let private config =
    { FsCheckConfig.defaultConfig with
        maxTest = 1000 }

[<Tests>]
let tests =
    testList
        "Idx"
        [ testPropertyWithConfig config "IDX images and labels read back exactly what was written, raw or gzipped"
          <| fun (seed: int) (gz: bool) ->
              use tmp = new TempFolder()
              let r = System.Random(seed)
              let n, h, w = r.Next(1, 6), r.Next(1, 5), r.Next(1, 5)
              let pixels = bytesOf seed (n * h * w)
              let labels = Array.init n (fun _ -> byte (r.Next 256))
              let ip = write tmp.Path "images" gz (idxImages Idx.ImagesMagic n h w pixels)
              let lp = write tmp.Path "labels" gz (idxLabels Idx.LabelsMagic labels)
              use images = Idx.ReadImages ip
              use read = Idx.ReadLabels lp

              images.shape = [| int64 n; 1L; int64 h; int64 w |]
              && images.dtype = torch.ScalarType.Byte
              && images.data<byte>().ToArray() = pixels
              && read.dtype = torch.ScalarType.Int64
              && read.data<int64>().ToArray() = Array.map int64 labels

          testCase "a Fashion-MNIST folder reads into uint8 [N, 1, H, W] with labels and names"
          <| fun () ->
              use tmp = new TempFolder()
              writeIdxFolder tmp.Path true 12 7 3 2
              use train = Idx.Read(tmp.Path, true, DatasetKind.FashionMnist)
              use test = Idx.Read(tmp.Path, false, DatasetKind.FashionMnist)
              Expect.equal train.Images.shape [| 12L; 1L; 3L; 2L |] "train shape"
              Expect.equal test.Count 7 "test count"
              Expect.equal (train.Labels.data<int64>().ToArray()) (Array.init 12 (fun i -> int64 (i % 10))) "labels"
              Expect.equal train.ClassNames.[9] "Ankle boot" "class names"

          testCase "an image file with the label magic number is refused, naming file and expected magic"
          <| fun () ->
              use tmp = new TempFolder()

              let p =
                  write tmp.Path "x" false (idxImages Idx.LabelsMagic 1 2 2 (Array.zeroCreate 4))

              dataError (fun () -> Idx.ReadImages p) p [ "magic number 0x00000801"; "expected 0x00000803" ]

          testCase "a label file with the image magic number is refused"
          <| fun () ->
              use tmp = new TempFolder()
              let p = write tmp.Path "y" true (idxLabels Idx.ImagesMagic [| 1uy |])
              dataError (fun () -> Idx.ReadLabels p) p [ "magic number 0x00000803"; "expected 0x00000801" ]

          testCase "a truncated image file (raw and gzipped) names the bytes found and expected"
          <| fun () ->
              use tmp = new TempFolder()

              for gz in [ false; true ] do
                  let full = idxImages Idx.ImagesMagic 3 4 4 (Array.zeroCreate 48)
                  let p = write tmp.Path $"t{gz}" gz full.[.. full.Length - 6]
                  dataError (fun () -> Idx.ReadImages p) p [ "is truncated: 59 bytes, expected 64"; "3 images of 4x4" ]

          testCase "a file shorter than its header is truncated"
          <| fun () ->
              use tmp = new TempFolder()
              let p = write tmp.Path "short" false [| 0uy; 0uy; 8uy |]
              dataError (fun () -> Idx.ReadLabels p) p [ "is truncated: 3 bytes"; "8-byte IDX header" ]

          testCase "trailing bytes after the data are refused"
          <| fun () ->
              use tmp = new TempFolder()

              let p =
                  write tmp.Path "long" false (idxLabels Idx.LabelsMagic [| 1uy; 2uy |] |> Array.append <| [| 9uy |])

              dataError (fun () -> Idx.ReadLabels p) p [ "is too long: 11 bytes, expected 10" ]

          testCase "a gzip stream cut short is refused as incomplete"
          <| fun () ->
              use tmp = new TempFolder()
              let gz = gzip (idxImages Idx.ImagesMagic 50 8 8 (bytesOf 1 3200))
              let p = Path.Combine(tmp.Path, "cut.gz")
              File.WriteAllBytes(p, gz.[.. gz.Length / 2])
              dataError (fun () -> Idx.ReadImages p) p [ "is not a complete gzip stream"; "decompressed to" ]

          testCase "different image and label counts name the label file and both counts"
          <| fun () ->
              use tmp = new TempFolder()
              writeIdxFolder tmp.Path false 5 5 2 2

              let lp =
                  write tmp.Path "train-labels-idx1-ubyte" false (idxLabels Idx.LabelsMagic [| 1uy; 2uy; 3uy; 4uy |])

              dataError
                  (fun () -> Idx.Read(tmp.Path, true))
                  lp
                  [ "holds 4 labels"; "holds 5 images"; "one label per image" ]

          testCase "a label of 10 in a 10-class set names the file and the record"
          <| fun () ->
              use tmp = new TempFolder()
              writeIdxFolder tmp.Path false 3 3 2 2

              let lp =
                  write tmp.Path "t10k-labels-idx1-ubyte" false (idxLabels Idx.LabelsMagic [| 1uy; 10uy; 3uy |])

              dataError (fun () -> Idx.Read(tmp.Path, false)) lp [ "label 10"; "record 1"; "outside 0..9" ]

          testCase "a missing file names both accepted file names"
          <| fun () ->
              use tmp = new TempFolder()
              let expected = Path.Combine(tmp.Path, "train-images-idx3-ubyte")

              dataError
                  (fun () -> Idx.Read(tmp.Path, true))
                  expected
                  [ "expected train-images-idx3-ubyte or train-images-idx3-ubyte.gz" ] ]
