module Snn.Core.Tests.Data.DatasetKindTests

open Expecto
open Snn.Core.Data

[<Tests>]
let tests =
    testList
        "DatasetKind"
        [ testCase
              "each legacy kind maps to one descriptor, and its normalisation and augmentation are the descriptor's"
          <| fun () ->
              let kinds = System.Enum.GetValues<DatasetKind>() |> List.ofArray
              let descriptors = kinds |> List.map _.Descriptor()

              Expect.equal
                  (descriptors |> List.map _.Name)
                  [ "fashion-mnist"; "mnist"; "cifar10"; "cifar100"; "imagenet" ]
                  "names"

              for k, d in List.zip kinds descriptors do
                  Expect.equal (Normalization.For k) d.Normalization $"{k} normalisation"
                  Expect.equal (Augmentation.For k) d.TrainingAugmentation $"{k} augmentation" ]
