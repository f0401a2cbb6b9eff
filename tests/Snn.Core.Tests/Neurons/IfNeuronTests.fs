module Snn.Core.Tests.Neurons.IfNeuronTests

open Expecto
open FsCheck.FSharp
open TorchSharp
open Snn.Core.Neurons
open Snn.Core.Activations
open Snn.Core.Tests
open Snn.Core.Tests.Generators
open Snn.Core.Tests.ArgumentChecks

let private config =
    { FsCheckConfig.defaultConfig with
        maxTest = 1000 }

/// A run of the tensor neuron on a case, read back as float64 arrays: rates r, mean inputs z, spike counts,
/// final potentials v(T), and the outputs [T][n].
type private Observed =
    { Rates: float[]
      MeanInputs: float[]
      Counts: float[]
      Final: float[]
      Outputs: float[][] }

let private observe dtype (c: NeuronCase) =
    use scope = torch.NewDisposeScope()
    let currents = c.CurrentsTensor dtype

    let run =
        IfNeuron.Run(currents, c.ThresholdTensor dtype, c.InitialPotentialTensor dtype)

    let outputs = valuesOf run.Outputs

    { Rates = valuesOf (run.Outputs.mean [| 0L |])
      MeanInputs = valuesOf (currents.mean [| 0L |])
      Counts = valuesOf run.SpikeCounts
      Final = valuesOf run.FinalPotential
      Outputs = Array.init c.Steps (fun t -> outputs.[t * c.Count .. (t + 1) * c.Count - 1]) }

/// The magnitude that rounding errors of a run scale with.
let private magnitude (c: NeuronCase) n =
    c.Thresholds.[n] + abs c.InitialPotentials.[n] + Array.sumBy abs c.Currents.[n]

let private identityHolds dtype tolerance (c: NeuronCase) =
    let o = observe dtype c
    let steps = float c.Steps

    for n in 0 .. c.Count - 1 do
        let deviation =
            abs (o.Rates.[n] - o.MeanInputs.[n] - (c.InitialPotentials.[n] - o.Final.[n]) / steps)

        Expect.isLessThanOrEqual deviation (tolerance * magnitude c n) $"neuron {n}: r = z + (v(0) - v(T)) / T"

/// Runs a case step by step with StepInPlace (and with Step) in the given dtype; both runs must agree bit for bit.
let private inPlaceAgrees dtype (c: NeuronCase) =
    use scope = torch.NewDisposeScope()
    let currents = c.CurrentsTensor dtype
    let theta = c.ThresholdTensor dtype
    let shape = currents.shape.[1..]
    let inPlace = (c.InitialPotentialTensor dtype).expand(shape).clone ()
    let mutable stepped = (c.InitialPotentialTensor dtype).expand(shape).clone ()
    let output = torch.empty (shape, dtype = dtype)

    for t in 0L .. currents.shape.[0] - 1L do
        let spikes = IfNeuron.StepInPlace(inPlace, currents.[t], theta, output)
        let step = IfNeuron.Step(stepped, currents.[t], theta)
        stepped <- step.Potential
        Expect.equal (valuesOf (spikes.to_type dtype)) (valuesOf step.Spikes) $"step {t + 1L}: s(t)"
        Expect.equal (valuesOf output) (valuesOf (step.Spikes * theta)) $"step {t + 1L}: theta * s(t)"
        Expect.equal (valuesOf inPlace) (valuesOf step.Potential) $"step {t + 1L}: v(t)"

[<Tests>]
let tests =
    testList
        "IfNeuron"
        [ testPropertyWithConfig config "StepInPlace equals Step bit for bit (float64, random sequences)"
          <| Prop.forAll neuronCases (inPlaceAgrees torch.float64)

          testPropertyWithConfig config "StepInPlace equals Step bit for bit (float32, dyadic grid with ties)"
          <| Prop.forAll gridCases (inPlaceAgrees torch.float32)

          testCase "the half shift is v(0) = theta / 2"
          <| fun () ->
              use scope = torch.NewDisposeScope()

              Expect.equal
                  (valuesOf (IfNeuron.HalfShift(torch.tensor [| 1.0; 0.3; 5.0 |])))
                  [| 0.5; 0.15; 2.5 |]
                  "theta / 2"

          testPropertyWithConfig config "the rate from the spike counts is the mean output over T"
          <| Prop.forAll neuronCases (fun c ->
              use scope = torch.NewDisposeScope()
              let theta = c.ThresholdTensor torch.float64

              let run =
                  IfNeuron.Run(c.CurrentsTensor torch.float64, theta, c.InitialPotentialTensor torch.float64)

              let fromCounts = valuesOf (IfNeuron.Rate(run.SpikeCounts, theta, c.Steps))
              let mean = valuesOf (run.Outputs.mean [| 0L |])

              for n in 0 .. c.Count - 1 do
                  Expect.floatClose
                      { absolute = 0.0
                        relative = Tolerances.float64Relative }
                      fromCounts.[n]
                      mean.[n]
                      $"neuron {n}: theta * counts / T")

          testCase "charge adds the current to the potential"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              let v = IfNeuron.Charge(torch.tensor [| 0.25; -1.0 |], torch.tensor [| 0.5; 0.25 |])
              Expect.equal (valuesOf v) [| 0.75; -0.75 |] "v(t-1) + I(t)"

          testCase "fire compares strictly: a potential equal to theta does not spike"
          <| fun () ->
              use scope = torch.NewDisposeScope()
              let s = IfNeuron.Fire(torch.tensor [| 0.5; 1.0; 1.0000001; 3.0 |], torch.tensor 1.0)
              Expect.equal (valuesOf s) [| 0.0; 0.0; 1.0; 1.0 |] "s = [v > theta]"

          testCase "reset subtracts theta from spiking neurons and never zeroes the potential"
          <| fun () ->
              use scope = torch.NewDisposeScope()

              let v =
                  IfNeuron.Reset(torch.tensor [| 1.75; 0.5; 2.5 |], torch.tensor [| 1.0; 0.0; 1.0 |], torch.tensor 1.0)

              Expect.equal (valuesOf v) [| 0.75; 0.5; 1.5 |] "v - theta * s"

          testCase "one step charges, fires and resets"
          <| fun () ->
              use scope = torch.NewDisposeScope()

              let r =
                  IfNeuron.Step(torch.tensor [| 0.5; 0.5 |], torch.tensor [| 0.75; 0.25 |], torch.tensor 1.0)

              Expect.equal (valuesOf r.Spikes) [| 1.0; 0.0 |] "spikes"
              Expect.equal (valuesOf r.Potential) [| 0.25; 0.75 |] "potentials"

          testCase "at an exact half-step tie the strict threshold leaves v(T) = theta, one level below QC_T"
          <| fun () ->
              // theta = 1, v(0) = 1/2, constant I = 1/2, T = 1: v(1) = 1 = theta does not fire, while
              // QC_1(1/2) = floor(1/2 + 1/2) = 1 rounds the half step up. The residual is -theta / T and v(T)
              // counts as overflowing (v(T) >= theta): this is the boundary the key fact excludes.
              use scope = torch.NewDisposeScope()

              let run =
                  IfNeuron.Run(torch.tensor([| 0.5 |]).reshape (1L, 1L), torch.tensor 1.0, torch.tensor 0.5)

              Expect.equal (valuesOf run.SpikeCounts) [| 0.0 |] "no spike"
              Expect.equal (valuesOf run.FinalPotential) [| 1.0 |] "v(T) = theta"

              let qc =
                  QuantizeClipActivation.Functional.QuantizeClip(torch.tensor [| 0.5 |], torch.tensor 1.0, 1)

              Expect.equal (valuesOf qc) [| 1.0 |] "QC rounds the half step up"

          testCase "Run leaves no tensors behind in the caller's scope beyond its three results"
          <| fun () ->
              use outer = torch.NewDisposeScope()
              let currents = torch.rand (8L, 4L, 16L)
              let theta, v0 = torch.tensor 0.5f, torch.tensor 0.25f
              let before = outer.DisposablesCount
              let run = IfNeuron.Run(currents, theta, v0)
              Expect.equal (outer.DisposablesCount - before) 3 "outputs, counts and v(T) only"
              Expect.equal run.Outputs.shape [| 8L; 4L; 16L |] "outputs [T, B, ...]"

          testCase "a threshold <= 0 is refused, naming the value and the range"
          <| fun () ->
              use scope = torch.NewDisposeScope()

              argumentError "threshold" [ "0"; "> 0" ] (fun () ->
                  IfNeuron.Run(torch.ones (2L, 3L), torch.tensor 0.0, torch.tensor 0.0) |> ignore)

              argumentError "threshold" [ "-1"; "> 0" ] (fun () ->
                  IfNeuron.Run(torch.ones (2L, 3L), torch.tensor [| 1.0; -1.0; 2.0 |], torch.tensor 0.0)
                  |> ignore)

          testCase "fewer than one time step is refused"
          <| fun () ->
              use scope = torch.NewDisposeScope()

              argumentError "currents" [ "0"; ">= 1" ] (fun () ->
                  IfNeuron.Run(torch.ones (0L, 3L), torch.tensor 1.0, torch.tensor 0.5) |> ignore)

          testCase "thresholds and initial potentials that do not broadcast to the neurons are refused"
          <| fun () ->
              use scope = torch.NewDisposeScope()

              argumentError "threshold" [ "[2]"; "[4, 3]" ] (fun () ->
                  IfNeuron.Run(torch.ones (2L, 4L, 3L), torch.ones 2L, torch.tensor 0.5) |> ignore)

              argumentError "initialPotential" [ "[4, 2]"; "[4, 3]" ] (fun () ->
                  IfNeuron.Run(torch.ones (2L, 4L, 3L), torch.tensor 1.0, torch.ones (4L, 2L))
                  |> ignore)

          // Property 1
          testPropertyWithConfig config "r = z + (v(0) - v(T)) / T for every input sequence, threshold and T"
          <| Prop.forAll neuronCases (fun c ->
              identityHolds torch.float64 Tolerances.float64Relative c
              identityHolds torch.float32 Tolerances.float32Relative c)

          // Property 2
          testPropertyWithConfig config "if 0 <= v(T) < theta and v(0) = theta / 2 then r = QC_T(z)"
          <| Prop.forAll halfShiftCases (fun c ->
              use scope = torch.NewDisposeScope()
              let o = observe torch.float64 c
              let z = tensorOf c.Shape o.MeanInputs

              let qc =
                  valuesOf (
                      QuantizeClipActivation.Functional.QuantizeClip(z, c.ThresholdTensor torch.float64, c.Steps)
                  )

              let inRange =
                  [ for n in 0 .. c.Count - 1 do
                        let theta = c.Thresholds.[n]
                        // Within tieMargin of 0 or theta the floor in QC_T is decided by rounding of z.
                        if
                            o.Final.[n] >= Tolerances.tieMargin * theta
                            && o.Final.[n] < theta * (1.0 - Tolerances.tieMargin)
                        then
                            n ]

              for n in inRange do
                  Expect.floatClose
                      { absolute = Tolerances.float64Relative * c.Thresholds.[n]
                        relative = 0.0 }
                      o.Rates.[n]
                      qc.[n]
                      $"neuron {n}: r = QC_T(z) when v(T) = {o.Final.[n]} is in [0, theta)"

              Prop.classify (not inRange.IsEmpty) "some neuron in range" true)

          // Property 6
          testPropertyWithConfig config "spike counts are integers in [0, T] and every output is 0 or theta"
          <| Prop.forAll neuronCases (fun c ->
              let o = observe torch.float32 c

              for n in 0 .. c.Count - 1 do
                  let k = o.Counts.[n]

                  Expect.isTrue
                      (k >= 0.0 && k <= float c.Steps && k = round k)
                      $"neuron {n}: count {k} in [0, {c.Steps}]"

                  let theta = float (float32 c.Thresholds.[n])

                  for t in 0 .. c.Steps - 1 do
                      let out = o.Outputs.[t].[n]
                      Expect.isTrue (out = 0.0 || out = theta) $"neuron {n}, step {t + 1}: output {out} is 0 or theta")

          // Property 7
          testPropertyWithConfig
              config
              "the float64 tensor neuron equals the scalar reference on random sequences, shapes and thresholds"
          <| Prop.forAll neuronCases (fun c ->
              let o = observe torch.float64 c

              for n in 0 .. c.Count - 1 do
                  let reference = c.References.[n]

                  Expect.equal
                      (Array.init c.Steps (fun t -> o.Outputs.[t].[n]))
                      reference.Outputs
                      $"neuron {n}: outputs"

                  Expect.equal o.Counts.[n] (float reference.Spikes) $"neuron {n}: spike count"
                  Expect.equal o.Final.[n] reference.FinalPotential $"neuron {n}: v(T)")

          testPropertyWithConfig
              config
              "the float32 tensor neuron equals the scalar reference on the dyadic grid, ties included"
          <| Prop.forAll gridCases (fun c ->
              let o = observe torch.float32 c

              for n in 0 .. c.Count - 1 do
                  let reference = c.References.[n]

                  Expect.equal
                      (Array.init c.Steps (fun t -> o.Outputs.[t].[n]))
                      reference.Outputs
                      $"neuron {n}: outputs"

                  Expect.equal o.Counts.[n] (float reference.Spikes) $"neuron {n}: spike count"
                  Expect.equal o.Final.[n] reference.FinalPotential $"neuron {n}: v(T)") ]
