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
              use train = Idx.Read(tmp.Path, true, Idx.FashionMnistClasses, "fashion-mnist/train")
              use test = Idx.Read(tmp.Path, false, Idx.FashionMnistClasses, "fashion-mnist/test")
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

                  dataError
                      (fun () -> Idx.ReadImages p)
                      p
                      [ "is truncated: 59 bytes"; "expected 64"; "3 images of 4x4" ]

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

              dataError
                  (fun () -> Idx.ReadImages p)
                  p
                  [ "is not a complete gzip stream"; "decompressed to"; "declares 3,216 bytes" ]

          testCase "different image and label counts name the label file and both counts"
          <| fun () ->
              use tmp = new TempFolder()
              writeIdxFolder tmp.Path false 5 5 2 2

              let lp =
                  write tmp.Path "train-labels-idx1-ubyte" false (idxLabels Idx.LabelsMagic [| 1uy; 2uy; 3uy; 4uy |])

              dataError
                  (fun () -> Idx.Read(tmp.Path, true, Idx.MnistClasses, "t"))
                  lp
                  [ "holds 4 labels"; "holds 5 images"; "one label per image" ]

          testCase "a label of 10 in a 10-class set names the file and the record"
          <| fun () ->
              use tmp = new TempFolder()
              writeIdxFolder tmp.Path false 3 3 2 2

              let lp =
                  write tmp.Path "t10k-labels-idx1-ubyte" false (idxLabels Idx.LabelsMagic [| 1uy; 10uy; 3uy |])

              dataError
                  (fun () -> Idx.Read(tmp.Path, false, Idx.MnistClasses, "t"))
                  lp
                  [ "label 10"; "record 1"; "outside 0..9" ]

          testCase "a missing file names both accepted file names"
          <| fun () ->
              use tmp = new TempFolder()
              let expected = Path.Combine(tmp.Path, "train-images-idx3-ubyte")

              dataError
                  (fun () -> Idx.Read(tmp.Path, true, Idx.MnistClasses, "t"))
                  expected
                  [ "expected train-images-idx3-ubyte or train-images-idx3-ubyte.gz" ]

          testPropertyWithConfig
              config
              "a multi-member gzip file reads as the concatenation of its members, as gzip tools read it"
          <| fun (seed: int) (cuts: byte list) ->
              use tmp = new TempFolder()
              let r = System.Random(seed)
              let n, h, w = r.Next(1, 6), r.Next(1, 5), r.Next(1, 5)
              let pixels = bytesOf seed (n * h * w)
              let whole = idxImages Idx.ImagesMagic n h w pixels

              let points =
                  cuts
                  |> List.map (fun c -> int c % (whole.Length + 1))
                  |> List.distinct
                  |> List.sort

              let bounds = 0 :: points @ [ whole.Length ]
              let pieces = List.pairwise bounds |> List.map (fun (a, b) -> whole.[a .. b - 1])
              let p = Path.Combine(tmp.Path, "multi.gz")
              File.WriteAllBytes(p, gzipMembers pieces)
              use images = Idx.ReadImages p
              images.data<byte>().ToArray() = pixels

          testCase "a multi-member gzip file whose last member is cut short is refused as incomplete"
          <| fun () ->
              use tmp = new TempFolder()
              let whole = idxImages Idx.ImagesMagic 40 8 8 (bytesOf 3 2560)
              let second = gzip whole.[1000..]
              let p = Path.Combine(tmp.Path, "cut.gz")

              for cut in [ 1; 4; 8; second.Length / 2 ] do
                  File.WriteAllBytes(p, Array.append (gzip whole.[..999]) second.[.. second.Length - 1 - cut])
                  dataError (fun () -> Idx.ReadImages p) p [ "is not a complete gzip stream" ]

          testCase "bytes after the end of a gzip stream are refused"
          <| fun () ->
              use tmp = new TempFolder()
              let p = Path.Combine(tmp.Path, "tail.gz")

              File.WriteAllBytes(p, Array.append (gzip (idxLabels Idx.LabelsMagic [| 1uy; 2uy |])) [| 7uy; 7uy; 7uy |])

              dataError (fun () -> Idx.ReadLabels p) p [ "is not a complete gzip stream"; "nothing after its end" ]

          testCase "a corrupted gzip member is refused naming the CRC check"
          <| fun () ->
              use tmp = new TempFolder()
              let first = gzip (idxLabels Idx.LabelsMagic (bytesOf 2 300))
              first.[first.Length - 6] <- first.[first.Length - 6] ^^^ 1uy
              let p = Path.Combine(tmp.Path, "crc.gz")
              File.WriteAllBytes(p, Array.append first (gzip [||]))
              dataError (fun () -> Idx.ReadLabels p) p [ "is not a valid gzip stream"; "CRC-32" ]

          testCase "a gzip file that decompresses far beyond its header is refused without decompressing it"
          <| fun () ->
              use tmp = new TempFolder()
              // 3 labels declared, followed by 256 MB of zeros: about 250 KB compressed.
              let header = idxLabels Idx.LabelsMagic [| 1uy; 2uy; 3uy |]
              let p = Path.Combine(tmp.Path, "bomb.gz")

              do
                  use file = File.Create p

                  use z =
                      new System.IO.Compression.GZipStream(file, System.IO.Compression.CompressionLevel.Fastest)

                  z.Write(header, 0, header.Length)
                  let zeros = Array.zeroCreate<byte> (1 <<< 20)

                  for _ in 1..256 do
                      z.Write(zeros, 0, zeros.Length)

              let before = System.GC.GetAllocatedBytesForCurrentThread()

              dataError
                  (fun () -> Idx.ReadLabels p)
                  p
                  [ "is too long"; "decompresses to more than 11 bytes"; "refused" ]

              let allocated = System.GC.GetAllocatedBytesForCurrentThread() - before
              Expect.isLessThan allocated (16L <<< 20) "far less than the 256 MB the stream holds was allocated"

          testCase "a link to /dev/zero is refused as not a regular file, at once"
          <| fun () ->
              use tmp = new TempFolder()
              let p = link tmp.Path "train-images-idx3-ubyte" "/dev/zero"
              dataError (fun () -> Idx.ReadImages p) p [ "is not a regular file"; "/dev/zero" ]

          testCase "a header declaring more data than the file can hold is refused before anything is allocated"
          <| fun () ->
              use tmp = new TempFolder()
              let huge = idxImages Idx.ImagesMagic 100000 1000 1000 [| 0uy |]
              let raw = write tmp.Path "huge" false huge

              dataError
                  (fun () -> Idx.ReadImages raw)
                  raw
                  [ "is truncated: 17 bytes, expected 100000000016"
                    "100000 images of 1000x1000" ]

              let gz = write tmp.Path "huge" true huge

              dataError
                  (fun () -> Idx.ReadImages gz)
                  gz
                  [ "compressed bytes cannot hold the 100,000,000,016 bytes its IDX header declares"
                    "deflate expands at most 1032:1" ]

          testCase "images are decompressed straight into the tensor: no managed copy of the pixels is made"
          <| fun () ->
              use tmp = new TempFolder()
              let n = 4000

              let p =
                  write tmp.Path "i" true (idxImages Idx.ImagesMagic n 28 28 (bytesOf 5 (n * 784)))

              let before = System.GC.GetAllocatedBytesForCurrentThread()
              use images = Idx.ReadImages p
              let allocated = System.GC.GetAllocatedBytesForCurrentThread() - before
              Expect.isLessThan allocated (int64 (n * 784 / 4)) "far less managed memory than the 3.1 MB of pixels"

          testCase "Inspect reads the counts and shape from the headers and checks one label per image"
          <| fun () ->
              use tmp = new TempFolder()
              writeIdxFolder tmp.Path true 9 4 3 5
              Expect.equal (Idx.Inspect(tmp.Path, true)) (9, 3, 5) "train"
              Expect.equal (Idx.Inspect(tmp.Path, false)) (4, 3, 5) "test"

              // The raw file is found before the .gz one.
              let lp =
                  write tmp.Path "t10k-labels-idx1-ubyte" false (idxLabels Idx.LabelsMagic [| 1uy |])

              dataError (fun () -> Idx.Inspect(tmp.Path, false)) lp [ "holds 1 labels"; "holds 4 images" ]

          testCase "the real Fashion-MNIST files read as exactly the bytes a plain gzip decompression gives"
          <| fun () ->
              let folder = DatasetLocator.DebianFashionMnistFolder

              let reference (name: string) (header: int) =
                  use file = File.OpenRead(Path.Combine(folder, name))

                  use z =
                      new System.IO.Compression.GZipStream(file, System.IO.Compression.CompressionMode.Decompress)

                  use all = new MemoryStream()
                  z.CopyTo all
                  all.ToArray().[header..]

              for prefix in [ "train"; "t10k" ] do
                  use images = Idx.ReadImages(Path.Combine(folder, $"{prefix}-images-idx3-ubyte.gz"))
                  use labels = Idx.ReadLabels(Path.Combine(folder, $"{prefix}-labels-idx1-ubyte.gz"))

                  Expect.isTrue
                      (images.data<byte>().ToArray() = reference $"{prefix}-images-idx3-ubyte.gz" 16)
                      $"{prefix} pixels"

                  Expect.equal
                      (labels.data<int64>().ToArray())
                      (reference $"{prefix}-labels-idx1-ubyte.gz" 8 |> Array.map int64)
                      $"{prefix} labels" ]
