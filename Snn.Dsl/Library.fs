module Snn.Dsl.Library
let x = 1
