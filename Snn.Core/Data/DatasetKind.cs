namespace Snn.Core.Data;

/// <summary>The dataset formats the toolkit reads; each names a file layout and a default normalisation.</summary>
public enum DatasetKind
{
    /// <summary>Fashion-MNIST: IDX files (train-/t10k- images and labels, raw or gzipped), 1x28x28, 10 classes.</summary>
    FashionMnist,

    /// <summary>MNIST: the same IDX layout as Fashion-MNIST, 1x28x28, 10 classes.</summary>
    Mnist,

    /// <summary>CIFAR-10 binary batches (data_batch_1..5.bin, test_batch.bin), 3x32x32, 10 classes.</summary>
    Cifar10,

    /// <summary>CIFAR-100 binary (train.bin, test.bin) with coarse and fine labels, 3x32x32, 100 fine classes.</summary>
    Cifar100,

    /// <summary>An image-folder tree root/&lt;split&gt;/&lt;class&gt;/*.jpg|png (ImageNet layout), 3xSxS.</summary>
    ImageFolder,
}
