/// The F# block of docs/DSL.md and README.md, compiled by the test suite. Keep the text between
/// the markers identical to the docs (a test checks it).
module Snn.Dsl.Tests.DocSnippet

// snippet-start
open Snn.Dsl
open Snn.Dsl.Steps

let fmnistVgg =
    input (1, 28, 28)
    --> conv 32 --> bn --> act --> conv 32 --> bn --> act --> avgPool 2
    --> conv 64 --> bn --> act --> conv 64 --> bn --> act --> avgPool 2
    --> conv 128 --> bn --> act --> avgPool 2
    --> flatten --> linear 256 --> act --> linear 10

let dualPhase =
    [ trainRelu 10; trainClip 10; foldBatchNorm; evaluateDirect defaultTimeSteps
      fineTuneQC [ 1; 2; 4 ] 3; convert; evaluate defaultTimeSteps
      ablation [ calibratePotential; calibrateWeights ]
      phaseTwo [ calibratePotential; calibrateWeights; calibratePotential ]
      evaluate [ 1; 2; 4 ]; qcfs 10; report ]
// snippet-end
