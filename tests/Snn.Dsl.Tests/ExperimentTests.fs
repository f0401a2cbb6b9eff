module Snn.Dsl.Tests.ExperimentTests

open System.IO
open Expecto
open FsCheck
open FsCheck.FSharp
open Snn.Dsl
open Snn.Dsl.Tests.Common

let private presets =
    [ FmnistVgg
      Vgg16 10
      Vgg16 100
      ResNet20 10
      ResNet18(Cifar, 10)
      ResNet18(ImageNet MaxStemPool, 1000)
      ResNet34(ImageNet AvgStemPool, 1000) ]

[<Tests>]
let tests =
    testList
        "Experiment"
        [ test "every preset under every profile round-trips through JSON exactly" {
              for profile in Profiles.all do
                  for preset in presets do
                      let e =
                          { profile with
                              Network = PresetNetwork preset }

                      Expect.equal
                          (Experiment.fromJson (Experiment.toJson e))
                          (Ok e)
                          $"%A{preset} / %A{profile.Profile}"
          }

          test "a custom network round-trips through JSON exactly" {
              let e =
                  { Profiles.quick with
                      Network = CustomNetwork(Presets.resnet18 (ImageNet AvgStemPool) 1000) }

              Expect.equal (Experiment.fromJson (Experiment.toJson e)) (Ok e) "resnet18 as layers"
          }

          testPropertyWithConfig
              { FsCheckConfig.defaultConfig with
                  maxTest = 300 }
              "any experiment round-trips through JSON exactly"
          <| Prop.forAll (Arb.fromGen Generators.experiment) (fun e -> Experiment.fromJson (Experiment.toJson e) = Ok e)

          test "the JSON reads like the DSL: phase and layer kinds by name" {
              let json =
                  Experiment.toJson
                      { Profiles.bench with
                          Network = CustomNetwork Presets.fmnistVgg }

              for fragment in
                  [ "\"phase\": \"trainClip\""
                    "\"kind\": \"conv\""
                    "\"in_features\": 1152"
                    "\"profile\": \"bench\""
                    "\"dataset\": \"fashion-mnist\"" ] do
                  Expect.stringContains json fragment "fragment"
          }

          test "decoding errors name the JSON path and what was expected" {
              let json = Experiment.toJson Profiles.quick

              let broken = json.Replace("\"phase\": \"foldBatchNorm\"", "\"phase\": \"foldBN\"")

              Expect.equal
                  (Experiment.fromJson broken)
                  (Error
                      "experiment.pipeline[2].phase: expected a phase (trainRelu, trainClip, foldBatchNorm, fineTuneQC, calibratePotential, calibrateWeights, evaluate, qcfs), got \"foldBN\"")
                  "unknown phase"

              let noSeed = json.Replace("\"seed\": 0,", "")

              Expect.equal
                  (Experiment.fromJson noSeed)
                  (Error "experiment.seed: expected a value (the field is missing)")
                  "missing"

              let badEpochs = json.Replace("\"epochs\": 2,", "\"epochs\": \"two\",")

              Expect.equal
                  (Experiment.fromJson badEpochs)
                  (Error "experiment.pipeline[0].epochs: expected an integer")
                  "wrong type"

              Expect.isError (Experiment.fromJson "{ not json") "not JSON"
          }

          test "save and load round-trip a file; a missing file is named in the error" {
              let path =
                  Path.Combine(Path.GetTempPath(), $"experiment-%s{System.Guid.NewGuid().ToString()}.json")

              try
                  Experiment.save path Profiles.paper
                  Expect.equal (Experiment.load path) (Ok Profiles.paper) "round trip"
              finally
                  File.Delete path

              Expect.equal
                  (Experiment.load path)
                  (Error $"%s{path}: file not found (expected an experiment JSON file)")
                  "missing file"
          }

          test "validation collects network, pipeline and data errors together" {
              let e =
                  { Profiles.quick with
                      Network = CustomNetwork(input (1, 28, 28) --> conv 8 --> linear 10)
                      Pipeline = [ Phases.trainRelu -1 ]
                      Data =
                          { Profiles.quick.Data with
                              TestImages = Some 0 } }

              match Experiment.validate e with
              | Ok _ -> failtest "expected errors"
              | Error es ->
                  Expect.equal
                      es
                      [ "layer 1 (linear 10): expected a vector, got a feature map 8x28x28: insert flatten before linear"
                        "phase 0 (trainRelu): epochs = -1 is out of range: expected >= 0"
                        "data: test images = 0 is out of range: expected >= 1 (or null for all)" ]
                      "three sources"
          } ]
