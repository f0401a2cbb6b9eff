module Snn.Core.Tests.Data.CifarTests

open System.IO
open Expecto
open Snn.Core.Data
open Snn.Core.Tests.Data.DataFixtures

/// Writes CIFAR-10 batches with `perFile` records each; record r of file f has label (f + r) % 10.
let private writeCifar10 (folder: string) (perFile: int) =
    Directory.CreateDirectory folder |> ignore

    for f, name in Seq.indexed (Seq.append Cifar.Cifar10TrainFiles [ Cifar.Cifar10TestFile ]) do
        let records =
            Array.init perFile (fun r -> cifarRecord [| byte ((f + r) % 10) |] (bytesOf (f * 100 + r) Cifar.PixelBytes))

        File.WriteAllBytes(Path.Combine(folder, name), Array.concat records)

[<Tests>]
let tests =
    testList
        "Cifar"
        [ testCase "CIFAR-10 records read back channel-first: pixel (c, y, x) is record byte 1 + 1024c + 32y + x"
          <| fun () ->
              use tmp = new TempFolder()
              writeCifar10 tmp.Path 3
              use train = Cifar.Read10(tmp.Path, true)
              use test = Cifar.Read10(tmp.Path, false)
              Expect.equal train.Images.shape [| 15L; 3L; 32L; 32L |] "five batches of three"
              Expect.equal test.Count 3 "test batch"
              // Record 1 of data_batch_2 is image 4 of the training set.
              let expected = bytesOf (1 * 100 + 1) Cifar.PixelBytes
              let image = train.Images.[4L].contiguous().data<byte>().ToArray()
              Expect.equal image expected "pixels in file order = [3, 32, 32]"
              Expect.equal (train.Images.[4L, 2L, 5L, 7L].item<byte> ()) expected.[2048 + 160 + 7] "blue (5, 7)"
              Expect.equal (train.Labels.data<int64>().ToArray().[4]) 2L "label of record 1 of batch 2"
              Expect.equal train.ClassNames.[0] "airplane" "standard names"

          testCase "CIFAR-10 is found under cifar-10-batches-bin and takes names from batches.meta.txt"
          <| fun () ->
              use tmp = new TempFolder()
              let nested = Path.Combine(tmp.Path, Cifar.Cifar10Folder)
              writeCifar10 nested 1
              File.WriteAllLines(Path.Combine(nested, "batches.meta.txt"), [ for i in 0..9 -> $"c{i}" ] @ [ "" ])
              use test = Cifar.Read10(tmp.Path, false)
              Expect.equal test.ClassNames.[3] "c3" "names from the file"

          testCase "CIFAR-100 keeps the fine label by default and the coarse label on request"
          <| fun () ->
              use tmp = new TempFolder()

              for name in [ "train.bin"; "test.bin" ] do
                  let records =
                      Array.init 4 (fun r ->
                          cifarRecord [| byte (r + 10); byte (r * 20 + 5) |] (bytesOf r Cifar.PixelBytes))

                  File.WriteAllBytes(tmp.File name, Array.concat records)

              use fine = Cifar.Read100(tmp.Path, true)
              use coarse = Cifar.Read100(tmp.Path, false, true)
              Expect.equal (fine.Labels.data<int64>().ToArray()) [| 5L; 25L; 45L; 65L |] "fine labels"
              Expect.equal (coarse.Labels.data<int64>().ToArray()) [| 10L; 11L; 12L; 13L |] "coarse labels"
              Expect.equal (fine.Classes, coarse.Classes) (100, 20) "class counts"
              Expect.equal (fine.Images.[3L].contiguous().data<byte>().ToArray()) (bytesOf 3 Cifar.PixelBytes) "pixels"

          testCase "a CIFAR-10 file whose size is not a multiple of 3073 names the file and the record size"
          <| fun () ->
              use tmp = new TempFolder()
              writeCifar10 tmp.Path 2
              let p = tmp.File "data_batch_3.bin"
              File.WriteAllBytes(p, Array.zeroCreate (2 * 3073 + 2))

              dataError
                  (fun () -> Cifar.Read10(tmp.Path, true))
                  p
                  [ "6148 bytes"
                    "3073-byte record"
                    "1 label byte + 3072 pixel bytes"
                    "2 bytes left over" ]

          testCase "a CIFAR-100 file of CIFAR-10 records is refused (3074-byte records expected)"
          <| fun () ->
              use tmp = new TempFolder()
              let p = tmp.File "test.bin"
              File.WriteAllBytes(p, Array.zeroCreate (3 * 3073))
              File.WriteAllBytes(tmp.File "train.bin", Array.zeroCreate 3074)
              dataError (fun () -> Cifar.Read100(tmp.Path, false)) p [ "3074-byte record"; "2 label bytes" ]

          testCase "an empty CIFAR file is refused"
          <| fun () ->
              use tmp = new TempFolder()
              writeCifar10 tmp.Path 1
              let p = tmp.File Cifar.Cifar10TestFile
              File.WriteAllBytes(p, [||])
              dataError (fun () -> Cifar.Read10(tmp.Path, false)) p [ "is empty (0 bytes)" ]

          testCase "a CIFAR-10 label of 10 names the file and the record"
          <| fun () ->
              use tmp = new TempFolder()
              writeCifar10 tmp.Path 2
              let p = tmp.File Cifar.Cifar10TestFile

              File.WriteAllBytes(
                  p,
                  Array.append (Array.zeroCreate 3073) (cifarRecord [| 10uy |] (Array.zeroCreate 3072))
              )

              dataError (fun () -> Cifar.Read10(tmp.Path, false)) p [ "record 1 has label 10"; "expected 0..9" ]

          testCase "a missing CIFAR-10 batch is named"
          <| fun () ->
              use tmp = new TempFolder()
              writeCifar10 tmp.Path 1
              let p = tmp.File "data_batch_5.bin"
              File.Delete p
              dataError (fun () -> Cifar.Read10(tmp.Path, true)) p [ "not found"; "data_batch_1.bin" ]

          testCase "a CIFAR batch or names file linked to /dev/zero is refused as not a regular file"
          <| fun () ->
              use tmp = new TempFolder()
              writeCifar10 tmp.Path 1
              let p = tmp.File Cifar.Cifar10TestFile
              File.Delete p
              link tmp.Path Cifar.Cifar10TestFile "/dev/zero" |> ignore
              dataError (fun () -> Cifar.Read10(tmp.Path, false)) p [ "is not a regular file" ]
              File.Delete p
              writeCifar10 tmp.Path 1
              let names = link tmp.Path "batches.meta.txt" "/dev/zero"
              dataError (fun () -> Cifar.Read10(tmp.Path, false)) names [ "is not a regular file" ] ]
