"""The stack put together: template.yaml deployed into moto (cloud.py), every function in
the local runtime and every service emulator wired to it (stack.py), and a function started
the SnapStart way (snapstart.py)."""
