module Snn.Core.Tests.Data.DatasetLocatorTests

open System.IO
open Expecto
open Snn.Core.Data
open Snn.Core.Tests.Data.DataFixtures

let private idxFolder (root: string) (name: string) =
    let d = Directory.CreateDirectory(Path.Combine(root, name)).FullName
    writeIdxFolder d true 1 1 1 1
    d

let private fmnist = DatasetDescriptor.FashionMnist

[<Tests>]
let tests =
    testList
        "DatasetLocator"
        [ testCase "an explicit path wins over SNN_DATA and the package folder"
          <| fun () ->
              use tmp = new TempFolder()
              let a, b, c = idxFolder tmp.Path "a", idxFolder tmp.Path "b", idxFolder tmp.Path "c"
              Expect.equal (DatasetLocator.Locate(a, fmnist, b, [ c ])) a "explicit"
              Expect.equal (DatasetLocator.Locate(null, fmnist, b, [ c ])) b "SNN_DATA next"
              Expect.equal (DatasetLocator.Locate("", fmnist, "", [ c ])) c "package folder last"

          testCase "a parent folder is accepted when it holds the dataset under its conventional name"
          <| fun () ->
              use tmp = new TempFolder()
              let d = idxFolder tmp.Path "fashion-mnist"
              Expect.equal (DatasetLocator.Locate(tmp.Path, fmnist, null, [])) d "nested"

          testCase "an explicit path without the files names the path and the expected files"
          <| fun () ->
              use tmp = new TempFolder()

              dataError
                  (fun () -> DatasetLocator.Locate(tmp.Path, fmnist, null, []))
                  tmp.Path
                  [ "does not hold Fashion-MNIST"
                    "train-images-idx3-ubyte"
                    "t10k-labels-idx1-ubyte"
                    ".gz" ]

          testCase "a wrong SNN_DATA says it came from SNN_DATA"
          <| fun () ->
              use tmp = new TempFolder()

              dataError
                  (fun () -> DatasetLocator.Locate(null, DatasetDescriptor.Cifar10, tmp.Path, []))
                  tmp.Path
                  [ "(from SNN_DATA)"; "data_batch_1.bin"; "test_batch.bin" ]

          testCase "nothing found says how to install the Debian package or point at the files"
          <| fun () ->
              use tmp = new TempFolder()
              let missing = Path.Combine(tmp.Path, "none")

              dataError
                  (fun () -> DatasetLocator.Locate(null, fmnist, null, [ missing ]))
                  missing
                  [ "Fashion-MNIST not found"
                    "apt-get install dataset-fashion-mnist"
                    "as root"
                    "--data PATH"
                    "SNN_DATA"
                    "train-images-idx3-ubyte" ]

          testCase "only Fashion-MNIST has a system folder; CIFAR-100 is never looked for there"
          <| fun () ->
              Expect.equal (List.ofSeq fmnist.SystemFolders) [ DatasetLocator.DebianFashionMnistFolder ] "Debian folder"

              for d in DatasetDescriptor.All do
                  if d <> fmnist then
                      Expect.isEmpty d.SystemFolders $"{d.Name} has no system folder"

              dataError
                  (fun () ->
                      DatasetLocator.Locate(
                          null,
                          DatasetDescriptor.Cifar100,
                          null,
                          DatasetDescriptor.Cifar100.SystemFolders
                      ))
                  "(no data path)"
                  [ "CIFAR-100 (binary version) not found"
                    "train.bin, test.bin"
                    "nothing is downloaded" ]

          testCase "an image folder is found by its train folder and its messages name the layout"
          <| fun () ->
              use tmp = new TempFolder()
              Directory.CreateDirectory(tmp.File "train") |> ignore
              Expect.equal (DatasetLocator.Locate(tmp.Path, DatasetDescriptor.ImageNet, null, [])) tmp.Path "found"

              dataError
                  (fun () -> DatasetLocator.Locate(null, DatasetDescriptor.ImageNet, null, []))
                  "(no data path)"
                  [ "An image-folder dataset (ImageNet layout) not found"; "train/<class>/*.jpg" ] ]
