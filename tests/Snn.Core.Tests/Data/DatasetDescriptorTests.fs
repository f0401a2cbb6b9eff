module Snn.Core.Tests.Data.DatasetDescriptorTests

open System
open System.IO
open Expecto
open Snn.Core.Data
open Snn.Core.Tests.Data.DataFixtures

[<Tests>]
let tests =
    testList
        "DatasetDescriptor"
        [ testCase "the known datasets have one lower-case name each, used by Find"
          <| fun () ->
              let names = DatasetDescriptor.All |> Seq.map _.Name |> List.ofSeq
              Expect.equal names [ "fashion-mnist"; "mnist"; "cifar10"; "cifar100"; "imagenet" ] "names"

              for d in DatasetDescriptor.All do
                  Expect.equal (DatasetDescriptor.Find d.Name) d $"Find {d.Name}"
                  Expect.equal (DatasetDescriptor.Find(d.Name.ToUpperInvariant())) d "case-insensitive"
                  Expect.equal (string d) d.Name "prints its name"

          testCase "an unknown name is an argument error naming the argument and listing the known names"
          <| fun () ->
              Expect.throwsC (fun () -> DatasetDescriptor.Find("imagefolder", "--dataset") |> ignore) (fun e ->
                  let e = e :?> ArgumentException
                  Expect.equal e.ParamName "--dataset" "argument"

                  Expect.stringContains
                      e.Message
                      "--dataset = imagefolder is not a known dataset: expected one of fashion-mnist, mnist, cifar10, cifar100, imagenet"
                      "message")

          testCase "Fashion-MNIST keeps its normalisation, augmentation, shape and classes"
          <| fun () ->
              let d = DatasetDescriptor.FashionMnist

              Expect.equal
                  (d.Normalization.Mean, d.Normalization.Std)
                  ([| 0.2860f |], [| 0.3530f |])
                  "BENCHMARKS.md statistics"

              Expect.equal d.TrainingAugmentation (Augmentation(2, true)) "crop 28 with padding 2 and flip"
              Expect.equal d.ImageShape [| 1; 28; 28 |] "shape"
              Expect.equal d.Classes (Nullable 10) "classes"
              Expect.equal d.ClassNames.[9] "Ankle boot" "names"

          testCase
              "each descriptor's normalisation has one mean and std per channel and its augmentation fits its images"
          <| fun () ->
              for d in DatasetDescriptor.All do
                  d.Normalization.Validate()
                  Expect.equal d.Normalization.Mean.Length d.Channels $"{d.Name} channels"
                  Expect.isLessThanOrEqual d.TrainingAugmentation.Padding d.ImageSide $"{d.Name} padding"

          testCase "MNIST is not flipped; CIFAR and image folders use padding 4 and flips"
          <| fun () ->
              Expect.equal DatasetDescriptor.Mnist.TrainingAugmentation (Augmentation(2, false)) "mnist"

              for d in
                  [ DatasetDescriptor.Cifar10
                    DatasetDescriptor.Cifar100
                    DatasetDescriptor.ImageNet ] do
                  Expect.equal d.TrainingAugmentation (Augmentation(4, true)) d.Name

          testCase "an image folder takes its image size; the fixed formats refuse one"
          <| fun () ->
              let d = DatasetDescriptor.ImageNet.WithImageSize 96
              Expect.equal d.ImageShape [| 3; 96; 96 |] "shape"
              Expect.equal d.Key "imagenet@96" "key"
              Expect.equal DatasetDescriptor.ImageNet.Key "imagenet@224" "default 224"
              Expect.equal DatasetDescriptor.Cifar10.Key "cifar10" "fixed key"
              Expect.isNull (box DatasetDescriptor.ImageNet.Classes) "classes from the folders"

              Expect.throwsC (fun () -> DatasetDescriptor.Cifar10.WithImageSize 64 |> ignore) (fun e ->
                  Expect.stringContains e.Message "does not apply to cifar10: its images are 3x32x32" "fixed"
                  Expect.stringContains e.Message "image-folder datasets: imagenet" "which datasets take one")

              Expect.throwsC (fun () -> DatasetDescriptor.ImageNet.WithImageSize 0 |> ignore) (fun e ->
                  Expect.stringContains e.Message "imageSize = 0 is out of range: expected [1, 4096]" "range")

          testCase "Inspect reads counts, shape and classes from the headers of each format"
          <| fun () ->
              use tmp = new TempFolder()
              writeIdxFolder tmp.Path true 9 4 3 5
              let layout = DatasetDescriptor.Mnist.Inspect tmp.Path
              Expect.equal (layout.TrainImages, layout.TestImages, layout.ImageShape) (9, 4, [| 1; 3; 5 |]) "IDX"
              Expect.equal layout.Classes 10 "classes"

              let cifar = Directory.CreateDirectory(tmp.File "c100").FullName

              for name, n in [ "train.bin", 3; "test.bin", 2 ] do
                  File.WriteAllBytes(Path.Combine(cifar, name), Array.zeroCreate (n * 3074))

              let c = DatasetDescriptor.Cifar100.Inspect cifar

              Expect.equal
                  (c.TrainImages, c.TestImages, c.ImageShape, c.Classes)
                  (3, 2, [| 3; 32; 32 |], 100)
                  "CIFAR-100" ]
