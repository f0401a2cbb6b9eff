module Snn.Dsl.Tests.Pipeline.PlanTests

open Expecto
open Snn.Dsl
open Snn.Dsl.Pipeline
open Snn.Dsl.Pipeline.Training
open Snn.Dsl.Pipeline.Steps
open Snn.Dsl.Steps

let private spec = Presets.fmnistVgg

let private messages (steps: IStep list) =
    Plan.problems spec None steps |> List.map _.Message

let private facts heldOut =
    { Dataset = Snn.Core.Data.DatasetDescriptor.FashionMnist
      Folder = "/data"
      Classes = 10
      Input = Image(1, 28, 28)
      TrainingFiles = 8000
      Train = 8000 - heldOut
      HeldOut = heldOut
      HeldOutIsDefault = true
      Test = 1000
      SnnTest = 1000 }

let private identities (steps: IStep list) =
    Plan.build "root" spec None steps |> List.map _.Identity

/// The identity of step `index`.
let private identityAt (index: int) (steps: IStep list) = (identities steps).[index]

/// `step` with one more JSON field: another identity, the same declaration.
let private probed (step: IStep) =
    { new IStep with
        member _.Name = step.Name
        member _.Label = step.Label

        member _.Json =
            let o = step.Json.DeepClone().AsObject()
            o["probe"] <- System.Text.Json.Nodes.JsonValue.Create 1
            o

        member _.Problems = step.Problems
        member _.Declare s = step.Declare s
        member _.Run ctx = step.Run ctx }

[<Tests>]
let tests =
    testList
        "Plan"
        [ test
              "without eval_batch_size the root identity is computed as before the setting existed; with it, it differs" {
              let data = (Snn.Dsl.Tests.Pipeline.TestPipelines.experiment "x" spec []).Data
              let specJson = (Json.SpecCodec.spec.Encode spec).ToJsonString()

              // The data settings' JSON as the codec wrote them before eval_batch_size (a run folder's identity).
              let before =
                  """{"dataset":"fashion-mnist","path":null,"train_images":512,"test_images":256,"held_out":1000}"""

              let expected =
                  Hash.text (String.concat "\n" [ "snn-pipeline/1"; "0"; specJson; before; "digest" ])

              Expect.equal (Plan.rootIdentity 0 spec data "digest") expected "unchanged without the setting"

              Expect.notEqual
                  (Plan.rootIdentity 0 spec { data with EvalBatchSize = Some 32 } "digest")
                  expected
                  "another evaluation batch, another identity"
          }

          test "one pipeline with many problems reports all of them, in step order, before any tensor exists" {
              let badClip =
                  Step.create
                      TrainClip.definition
                      { TrainClip.defaults with
                          Epochs = -1
                          Optimizer = { Sgd.paper with LearningRate = 0.0 } }

              let badFineTune =
                  Step.create
                      FineTuneQC.definition
                      { FineTuneQC.defaults with
                          TimeSteps = [ 0; 8 ]
                          NoiseProbability = 1.0 }

              let badQcfs = Step.create Qcfs.definition { Qcfs.defaults with Levels = 0 }

              Expect.equal
                  (messages
                      [ foldBatchNorm
                        badClip
                        badFineTune
                        phaseTwo [ CalibratePotential.step 0 ]
                        evaluate [ 1; 2; 1 ]
                        badQcfs ])
                  [ "step 0 (foldBatchNorm): needs the clip ANN, which no earlier step makes"
                    "step 1 (trainClip): epochs = -1 is out of range: expected [0, 100000]"
                    "step 1 (trainClip): optimizer.learning_rate = 0 is out of range: expected (0, 10]"
                    "step 2 (fineTuneQC): time step T = 0 is out of range: expected [1, 1024]"
                    "step 2 (fineTuneQC): noise_probability = 1 is out of range: expected [0, 1)"
                    "step 2 (fineTuneQC): needs the clip ANN with batch norm folded: add foldBatchNorm before this step"
                    "step 3 (phaseTwo): steps[0] (calibratePotential): calibration_images = 0 is out of range: expected >= 1"
                    "step 3 (phaseTwo): needs a spiking network: add convert before phaseTwo"
                    "step 4 (evaluate): time steps [1; 2; 1] contain duplicates"
                    "step 4 (evaluate): needs a spiking network: add convert before evaluate (or set \"network\" to evaluate an ANN converted as it is)"
                    "step 5 (qcfs): levels = 0 is out of range: expected [1, 1024]" ]
                  "every problem"
          }

          test "the order written is the order checked: a step cannot use what a later step makes" {
              Expect.equal
                  (messages [ trainClip 1; fineTuneQC [ 1 ] 1; foldBatchNorm; convert ])
                  [ "step 1 (fineTuneQC): needs the clip ANN with batch norm folded: add foldBatchNorm before this step"
                    "step 3 (convert): needs the QC ANN at L = 1 with batch norm folded: add foldBatchNorm before this step" ]
                  "fold after fine-tune"

              Expect.isEmpty
                  (messages
                      [ trainClip 1
                        foldBatchNorm
                        fineTuneQC [ 1 ] 1
                        convert
                        evaluate [ 1 ]
                        report ])
                  "the paper's order"
          }

          test "a network with batch norm cannot be evaluated as an SNN before folding (caught before training)" {
              Expect.equal
                  (messages [ trainClip 1; evaluateDirect [ 1 ] ])
                  [ "step 1 (evaluate): needs the clip ANN with batch norm folded: add foldBatchNorm before this step" ]
                  "unfolded"
          }

          test "a pipeline without trainClip is valid when nothing needs the clip ANN, and precise when something does" {
              Expect.isEmpty (messages [ trainRelu 1; report ]) "ReLU baseline alone"
              Expect.isEmpty (messages [ qcfs 1; report ]) "QCFS alone"

              Expect.equal
                  (messages [ trainRelu 1; fineTuneQC [ 1 ] 1 ])
                  [ "step 1 (fineTuneQC): needs the clip ANN, which no earlier step makes" ]
                  "fine-tune without clip"

              Expect.equal
                  (messages [ report ])
                  [ "step 0 (report): no earlier step records any figure: put report after the steps it reports (training, evaluate, qcfs)" ]
                  "report first"

              Expect.equal (messages []) [ "pipeline: the pipeline has no steps" ] "empty"
          }

          test "duplicates are meaningful (calibrations run twice, Phase II twice) or rejected with the reason" {
              Expect.equal
                  (messages [ trainClip 1; trainClip 2 ])
                  [ "step 1 (trainClip): makes the clip ANN, which step 0 already made: a pipeline trains each network once" ]
                  "second trainClip"

              Expect.equal
                  (messages [ trainClip 1; foldBatchNorm; foldBatchNorm ])
                  [ "step 2 (foldBatchNorm): the clip ANN has no batch norm left to fold: an earlier step folded it" ]
                  "second fold"

              Expect.isEmpty
                  (messages
                      [ trainClip 1
                        foldBatchNorm
                        fineTuneQC [ 1; 2 ] 1
                        convert
                        phaseTwo [ calibratePotential; calibratePotential; calibrateWeights; calibratePotential ]
                        phaseTwo [ calibratePotential ]
                        evaluate [ 1; 2 ] ])
                  "layer steps and Phase II passes may repeat"
          }

          test "what cannot be converted is refused before training: max pooling, no activations" {
              let maxPool =
                  input (1, 28, 28) --> conv 8 --> act --> maxPool 2 --> flatten --> linear 10

              Expect.equal
                  (Plan.problems maxPool None [ trainClip 1; foldBatchNorm; fineTuneQC [ 1 ] 1; convert ]
                   |> List.map _.Message)
                  [ "step 3 (convert): cannot convert the QC ANN at L = 1: layer 2 (maxPool 2 (stride 2, pad 0)): max pooling cannot be converted to spikes: use average pooling (avgPool), or convert with ReplaceMaxPool = true to replace it by average pooling of the same window" ]
                  "max pool"

              let noActivation = input (1, 28, 28) --> conv 8 --> flatten --> linear 10

              Expect.equal
                  (Plan.problems noActivation None [ qcfs 1 ] |> List.map _.Message)
                  [ "step 0 (qcfs): cannot convert the QCFS ANN: the network has no activations: nothing would become a spiking neuron" ]
                  "no activations"
          }

          test "once the data is read, Phase II image counts are checked against the held-out split" {
              let steps =
                  [ trainClip 1
                    foldBatchNorm
                    fineTuneQC [ 1 ] 1
                    convert
                    phaseTwo [ calibratePotential; calibrateWeights ] ]

              Expect.isEmpty (Plan.problems spec (Some(facts 5000)) steps) "5,000 held out"

              Expect.equal
                  (Plan.problems spec (Some(facts 666)) steps |> List.map _.Message)
                  [ "step 4 (phaseTwo): steps[0] (calibratePotential) reads 1024 held-out images, but the held-out split has 666: lower its image counts or raise data.held_out"
                    "step 4 (phaseTwo): steps[1] (calibrateWeights) reads 1280 held-out images, but the held-out split has 666: lower its image counts or raise data.held_out" ]
                  "666 held out"
          }

          test "a changed step changes its identity and those of the steps that depend on it, and no other" {
              let before = dualPhase 2 1 [ 1; 2 ]

              let after =
                  before
                  |> List.map (fun s -> if s.Name = "fineTuneQC" then fineTuneQC [ 1; 2 ] 2 else s)

              let changed =
                  List.zip3 [ 0 .. before.Length - 1 ] (identities before) (identities after)
                  |> List.filter (fun (_, a, b) -> a <> b)
                  |> List.map (fun (i, _, _) -> before[i].Name)

              Expect.equal
                  changed
                  [ "fineTuneQC"
                    "convert"
                    "evaluate"
                    "ablation"
                    "phaseTwo"
                    "evaluate"
                    "report" ]
                  "the fine-tune, what uses its networks and the report that reads their records; not the training before it, the direct evaluation or QCFS"
          }

          test "the report's identity follows every recording step before it, and only those" {
              let steps = dualPhase 2 1 [ 1; 2 ]
              let reportAt = steps |> List.findIndex (fun s -> s.Name = "report")
              let plan = Plan.build "root" spec None steps

              let recording =
                  plan |> List.filter (fun p -> p.Index < reportAt && p.Declaration.Records)

              Expect.isNonEmpty recording "the pipeline records figures before its report"

              // Each recording step's parameters changed alone: the report's identity changes.
              for r in recording do
                  let changed = steps |> List.mapi (fun i s -> if i = r.Index then probed s else s)
                  let before, after = identityAt reportAt steps, identityAt reportAt changed
                  Expect.notEqual after before $"step {r.Index} ({r.Step.Name}) changed"

              // A step after the report does not change it.
              let later = steps @ [ evaluate [ 8 ] ]
              Expect.equal (identityAt reportAt later) (identityAt reportAt steps) "a later evaluation"
          }

          test "adding a fine-tune target keeps the identities of the other targets' networks" {
              let qcIds (steps: IStep list) =
                  Plan.build "root" spec None steps
                  |> List.collect (fun p -> p.Makes)
                  |> List.choose (fun (a, _, id) ->
                      match a with
                      | Network(QcAnn l) -> Some(l, id)
                      | _ -> None)
                  |> Map.ofList

              let small = qcIds [ trainClip 1; foldBatchNorm; fineTuneQC [ 1; 2 ] 1 ]
              let large = qcIds [ trainClip 1; foldBatchNorm; fineTuneQC [ 1; 2; 4 ] 1 ]
              Expect.equal large[1] small[1] "L = 1 unchanged"
              Expect.equal large[2] small[2] "L = 2 unchanged"
              Expect.isTrue (large.ContainsKey 4) "L = 4 new"
          } ]
