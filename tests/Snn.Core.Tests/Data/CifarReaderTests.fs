module Snn.Core.Tests.Data.CifarReaderTests

open System.IO
open Expecto
open Snn.Core.Data
open Snn.Core.Tests.Data.DataFixtures

[<Tests>]
let tests =
    testList
        "CifarReader"
        [ testCase "Inspect counts CIFAR-10 records from file sizes and reads names from batches.meta.txt"
          <| fun () ->
              use tmp = new TempFolder()

              let dir =
                  Directory.CreateDirectory(Path.Combine(tmp.Path, Cifar.Cifar10Folder)).FullName

              for i, f in Seq.indexed (Seq.append Cifar.Cifar10TrainFiles [ Cifar.Cifar10TestFile ]) do
                  File.WriteAllBytes(Path.Combine(dir, f), Array.zeroCreate ((i + 1) * 3073))

              File.WriteAllLines(Path.Combine(dir, "batches.meta.txt"), [ for i in 0..9 -> $"k{i}" ])
              let layout = DatasetDescriptor.Cifar10.Inspect tmp.Path
              Expect.equal (layout.TrainImages, layout.TestImages) (1 + 2 + 3 + 4 + 5, 6) "records"
              Expect.equal layout.ClassNames.[2] "k2" "names"
              Expect.equal layout.Folder tmp.Path "the folder given"

          testCase "Inspect refuses a file of partial records before anything is read"
          <| fun () ->
              use tmp = new TempFolder()
              File.WriteAllBytes(tmp.File "train.bin", Array.zeroCreate 3074)
              let p = tmp.File "test.bin"
              File.WriteAllBytes(p, Array.zeroCreate 3075)

              dataError
                  (fun () -> DatasetDescriptor.Cifar100.Inspect tmp.Path)
                  p
                  [ "3074-byte record"; "1 bytes left over" ]

          testCase "Read takes CIFAR-100's fine label"
          <| fun () ->
              use tmp = new TempFolder()

              for f in [ "train.bin"; "test.bin" ] do
                  File.WriteAllBytes(tmp.File f, cifarRecord [| 3uy; 77uy |] (Array.zeroCreate 3072))

              use test =
                  DatasetDescriptor.Cifar100.Reader.Read(DatasetDescriptor.Cifar100, tmp.Path, false)

              Expect.equal (test.Labels.data<int64>().ToArray(), test.Name) ([| 77L |], "cifar100/test") "fine label" ]
