/// The README / docs/DSL.md snippet, compiled. DocSnippetTests checks that docs/DSL.md shows
/// exactly the lines between the markers.
module Snn.Dsl.Tests.DocSnippet

// snippet-start
open Snn.Dsl
open Snn.Dsl.Phases

let fmnistVgg =
    input (1, 28, 28)
    --> conv 32 --> bn --> act --> conv 32 --> bn --> act --> avgPool 2
    --> conv 64 --> bn --> act --> conv 64 --> bn --> act --> avgPool 2
    --> conv 128 --> bn --> act --> avgPool 2
    --> flatten --> linear 256 --> act --> linear 10

let dualPhase =
    [ trainRelu 10; trainClip 10; foldBatchNorm; fineTuneQC [ 1; 2; 4 ] 3
      calibratePotential; calibrateWeights; calibratePotential
      evaluate [ 1; 2; 4; 8; 16; 32 ]; qcfs 10 ]
// snippet-end
