/// Phase II b (PAPER.md): layer-wise weight calibration. Layer l runs alone as an SNN over T steps
/// on its recorded input spikes; its weight, bias, v(0) and the surrogate's alpha are trained with
/// Adam on KL(softmax(a_l^ANN) || softmax(r_l^SNN)) by surrogate BPTT, keeping the best by the loss
/// on early-stopping images (held-out images after the calibration images; never test data).
module Snn.Dsl.Pipeline.Steps.CalibrateWeights

open Snn.Core.Calibration
open Snn.Dsl.Json
open Snn.Dsl.Pipeline

type Parameters =
    {
        /// Adam's learning rate (PAPER.md: 1e-4).
        LearningRate: float
        /// Passes over the calibration images per layer.
        Epochs: int
        BatchSize: int
        /// Initial alpha of the surrogate 0.5 * tanh(alpha * (v - theta)) + 0.5 (PAPER.md: 2.5).
        InitialAlpha: float
        /// The first n held-out images (PAPER.md: 1,024).
        CalibrationImages: int
        /// The next m held-out images, for early stopping (PAPER.md: 256).
        EarlyStoppingImages: int
        /// Epochs without improvement of the early-stopping loss before a layer stops.
        Patience: int
    }

/// PAPER.md's settings; 10 epochs per layer, batch 128 and patience 3 are this project's choices.
let defaults =
    { LearningRate = 1e-4
      Epochs = 10
      BatchSize = 128
      InitialAlpha = 2.5
      CalibrationImages = 1024
      EarlyStoppingImages = 256
      Patience = 3 }

/// Snn.Core's weight-calibration options from the step's settings.
let options (p: Parameters) =
    CalibrationOptions(
        LearningRate = p.LearningRate,
        MaxEpochs = p.Epochs,
        Patience = p.Patience,
        InitialSlope = p.InitialAlpha
    )

let definition: LayerStepDefinition<Parameters> =
    { Name = "calibrateWeights"
      Operation = WeightCalibration
      Parameters =
        Codec.record (fun lr e b a n m pat ->
            { LearningRate = lr
              Epochs = e
              BatchSize = b
              InitialAlpha = a
              CalibrationImages = n
              EarlyStoppingImages = m
              Patience = pat })
        |> Codec.fieldOr "learning_rate" _.LearningRate Codec.float defaults.LearningRate
        |> Codec.fieldOr "epochs" _.Epochs Codec.int defaults.Epochs
        |> Codec.fieldOr "batch_size" _.BatchSize Codec.int defaults.BatchSize
        |> Codec.fieldOr "initial_alpha" _.InitialAlpha Codec.float defaults.InitialAlpha
        |> Codec.fieldOr "calibration_images" _.CalibrationImages Codec.int defaults.CalibrationImages
        |> Codec.fieldOr "early_stopping_images" _.EarlyStoppingImages Codec.int defaults.EarlyStoppingImages
        |> Codec.fieldOr "patience" _.Patience Codec.int defaults.Patience
      Problems =
        fun p ->
            [ if not (p.LearningRate > 0.0 && p.LearningRate <= 1.0) then
                  $"learning_rate = %g{p.LearningRate} is out of range: expected (0, 1]" ]
            @ Declare.inRange "epochs" 1 1000 p.Epochs
            @ Declare.inRange "batch_size" 1 65536 p.BatchSize
            @ Declare.positive "initial_alpha" p.InitialAlpha
            @ Declare.atLeast "calibration_images" 1 p.CalibrationImages
            @ Declare.atLeast "early_stopping_images" 1 p.EarlyStoppingImages
            @ Declare.inRange "patience" 0 1000 p.Patience
      CalibrationImages = fun p -> p.CalibrationImages
      EarlyStoppingImages = fun p -> p.EarlyStoppingImages
      Prepare =
        fun p c ->
            let calibration = c.Data.HeldOutImages(0, p.CalibrationImages, p.BatchSize)

            let stopping =
                c.Data.HeldOutImages(p.CalibrationImages, p.EarlyStoppingImages, p.BatchSize)

            let options = options p

            { new ILayerCalibration with
                member _.CalibrateLayer l =
                    let h =
                        WeightCalibration.CalibrateLayer(
                            c.Network,
                            l,
                            c.AnnActivations,
                            calibration,
                            stopping,
                            c.TimeSteps,
                            options
                        )

                    let name = c.Network.Layers[c.Network.NeuronLayers[l]].Name

                    c.Log
                        $"T={c.TimeSteps} {name}: weight calibration, held-out KL %.4g{h.HeldOutLoss[0]} -> %.4g{h.HeldOutLoss[h.BestEpoch]} (epoch {h.BestEpoch})"

                member _.Dispose() = () } }

/// Weight calibration with PAPER.md's settings.
let step = LayerStep.create definition defaults
