using System.Runtime.InteropServices;
using MLNetDeep.Initializers;
using MLNetDeep.Tasks;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetDeep.Models.Custom;

/// <summary>
/// A user's TorchSharp module (built by its registered factory) as an MLNetDeep network: the engine reshapes each
/// batch to [B, ...InputShape], the module returns [B, outputs] (or [B] for one output), and the task head does the rest.
/// </summary>
public sealed class CustomNetwork : DeepNetwork
{
    private readonly nn.Module<Tensor, Tensor> module;
    private readonly string _name;
    private readonly int _outputSize;
    private readonly PredictionKind _kind;

    internal CustomNetwork(CustomArchitecture arch, int outputSize, Initializer? initializer) : base("custom")
    {
        _name = arch.ModuleName;
        _outputSize = outputSize;
        _kind = arch.Kind;
        var registration = CustomModules.Get(arch.ModuleName, loading: true);
        object? options = ModuleOptions(arch, registration);
        nn.Module<Tensor, Tensor>? built;
        try
        {
            built = registration.Create(arch.Context(outputSize), options);
        }
        catch (ExternalException e)
        {
            throw new InvalidOperationException($"The factory of custom module '{_name}' failed in LibTorch: {FirstLine(e.Message)}", e);
        }
        module = built ?? throw new InvalidOperationException($"The factory of custom module '{_name}' returned null; it must return a new module.");
        // A factory that hands out one instance again would make two models share (and train) the same weights.
        lock (Wrapped)
        {
            if (Wrapped.TryGetValue(module, out _))
                throw new InvalidOperationException(
                    $"The factory of custom module '{_name}' returned a module it had returned before. It must build a new module on every call " +
                    $"(e.g. CustomModules.Register(\"{_name}\", context => new MyModule(...))), because each trained or loaded model owns its weights.");
            Wrapped.Add(module, this);
        }
        try
        {
            if (initializer is not null) Initialize(module, initializer);
            RegisterComponents();
            CheckOutput(arch);
        }
        catch
        {
            module.Dispose();
            throw;
        }
    }

    /// <summary>The modules already inside a network (weakly held), to refuse a factory that returns one again.</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<nn.Module, CustomNetwork> Wrapped = new();

    /// <summary>The user's module (to inspect after training, e.g. <c>(SmallCnn)network.Module</c>).</summary>
    public nn.Module<Tensor, Tensor> Module => module;

    /// <summary>The registered name the module was built from.</summary>
    public string ModuleName => _name;

    /// <summary>x: [B, ...InputShape] → [B, outputs].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        Tensor y;
        try
        {
            y = module.call(x); // [B, outputs] or [B]
        }
        catch (Exception e) when (e is ExternalException or ArgumentException or InvalidOperationException)
        {
            // LibTorch's errors (and TorchSharp's shape checks) with the module's name and the batch shape; the C++ trace stays inside
            throw new InvalidOperationException(
                $"Custom module '{_name}' failed on an input of shape [{string.Join(", ", x.shape)}]: {FirstLine(e.Message)}", e);
        }
        if (y.dim() == 1 && _outputSize == 1) y = y.unsqueeze(1); // [B] → [B, 1]
        if (y.dim() != 2 || y.shape[0] != x.shape[0] || y.shape[1] != _outputSize)
            throw new InvalidOperationException(OutputShapeError(x.shape, y.shape));
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>Runs two rows of zeros through the module in eval mode, so a wrong input or output shape fails before training with a clear message.</summary>
    private void CheckOutput(CustomArchitecture arch)
    {
        bool wasTraining = module.training;
        module.eval();
        try
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var probe = zeros(new long[] { 2 }.Concat(arch.InputShape.Select(d => (long)d)).ToArray());
            Tensor y;
            try
            {
                y = module.call(probe);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                throw new ArgumentException(
                    $"Custom module '{_name}' fails on its declared input [B, {string.Join(", ", arch.InputShape)}] (InputShape=[{string.Join(", ", arch.InputShape)}]): " +
                    $"{FirstLine(e.Message)} Set InputShape to the shape the module expects for one row, or fix the module.", nameof(CustomModuleOptions.InputShape), e);
            }
            if (y.dim() == 1 && _outputSize == 1) return;
            if (y.dim() != 2 || y.shape[0] != 2 || y.shape[1] != _outputSize)
                throw new ArgumentException(OutputShapeError(probe.shape, y.shape), nameof(CustomModuleContext.OutputSize));
        }
        finally
        {
            if (wasTraining) module.train();
        }
    }

    private string OutputShapeError(long[] input, long[] output)
    {
        string got = "[" + string.Join(", ", output.Select((d, i) => i == 0 && d == input[0] ? "B" : d.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]";
        string need = _kind switch
        {
            PredictionKind.MulticlassClassification => $"the label has {_outputSize} classes, so it must return [B, {_outputSize}] (one logit per class)",
            PredictionKind.BinaryClassification => "binary classification needs one margin (logit) per row: [B, 1] or [B]",
            PredictionKind.Regression => "regression needs one value per row: [B, 1] or [B]",
            _ => $"it must return [B, {_outputSize}]",
        };
        return $"Your module '{_name}' returns {got} for an input of [B, {string.Join(", ", input.Skip(1))}], but {need}. " +
               "Size its output layer with the factory's CustomModuleContext.OutputSize.";
    }

    private static string FirstLine(string message)
    {
        var line = message.Split('\n')[0].Trim();
        return line.EndsWith('.') ? line : line + ".";
    }

    private object? ModuleOptions(CustomArchitecture arch, CustomModules.Registration registration)
    {
        if (registration.OptionsType is null)
        {
            if (arch.ModuleOptions is { ValueKind: not System.Text.Json.JsonValueKind.Null })
                throw new InvalidOperationException(
                    $"Custom module '{_name}' was trained with module options, but it is registered here without an options type. " +
                    $"Register it with CustomModules.Register<TModuleOptions>(\"{_name}\", (context, options) => ...) using the options class it was trained with.");
            return null;
        }
        if (arch.ModuleOptions is not { ValueKind: not System.Text.Json.JsonValueKind.Null } json) return null;
        try
        {
            return registration.DeserializeOptions!(json);
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new InvalidDataException(
                $"The saved options of custom module '{_name}' don't read as {registration.OptionsType.Name}: {e.Message} " +
                "Register the module with the options class it was trained with.", e);
        }
    }

    /// <summary>The trainer's <see cref="Training.TrainerOptions.Initializer"/> on every Linear and convolution layer (weights; biases to zero).</summary>
    private static void Initialize(nn.Module root, Initializer initializer)
    {
        foreach (var m in root.named_modules().Select(nm => nm.module).Prepend(root).Distinct())
            if (m is TorchSharp.Modules.Linear or TorchSharp.Modules.Convolution)
                NetworkInit.InitLayer(m, initializer, null);
    }
}
