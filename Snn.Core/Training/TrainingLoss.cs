using static TorchSharp.torch;

namespace Snn.Core.Training;

/// <summary>
/// The objective a training epoch minimises, batch by batch: a scalar loss, differentiable with
/// respect to the trained model's parameters through <paramref name="logits"/>.
/// <see cref="Trainer.TrainEpoch"/> uses cross-entropy, L = -(1/B) sum_i log softmax(f(x_i))[y_i],
/// when none is given; <see cref="Distillation.Objective"/> is another.
/// </summary>
/// <param name="images">The batch's inputs [B, ...] (as the model saw them).</param>
/// <param name="logits">The model's outputs [B, K] for those inputs.</param>
/// <param name="labels">The classes [B] (int64, in [0, K)).</param>
/// <returns>A scalar tensor: the mean loss per image, &gt;= 0 for the objectives of this library.</returns>
public delegate Tensor TrainingLoss(Tensor images, Tensor logits, Tensor labels);
